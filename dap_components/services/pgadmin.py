"""pgAdmin with both databases pre-registered (TLS verified against the stack CA); psql tool off."""

from __future__ import annotations

from ..containers import ContainerSpec, NetworkAttachment, Upload, make_container, pinned_image
from ..render.pgadmin import PgServer, render_servers_json
from ..routes import HttpRoute
from .base import SECRETS_DIR, HostContext, ServiceResult

ALIAS = "pgadmin"
CA_FILE = "/etc/dap/ca.crt"
PASSWORD_FILE = f"{SECRETS_DIR}/pgadmin_password"


def reconcile_script(email: str) -> str:
    """pgAdmin reads PGADMIN_DEFAULT_PASSWORD(_FILE) only when it creates its database, so a kept volume would
    keep an old password. The step signs in with the file's password first (a new database already has it,
    and pgAdmin's CLI takes seconds to load); when that is refused, it sets the login's password with pgAdmin's
    own `setup.py update-user`, its arguments given inside the Python process (never on a command line)."""
    return f"""set -eu
cd /pgadmin4
/venv/bin/python3 - <<'PY'
import re, runpy, sys, urllib.error, urllib.parse, urllib.request
password = open("{PASSWORD_FILE}").read().strip()

class Keep(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None

web = urllib.request.build_opener(Keep())
page = web.open("http://127.0.0.1:80/login", timeout=30)
# the session cookie is Secure (SESSION_COOKIE_SECURE), which a cookie jar would not send over plain http
cookie = "; ".join(c.split(";", 1)[0] for c in page.headers.get_all("Set-Cookie") or [])
token = re.search(r'"csrfToken": "([^"]+)"', page.read().decode()).group(1)
form = urllib.parse.urlencode({{"email": "{email}", "password": password, "csrf_token": token}}).encode()
login = urllib.request.Request("http://127.0.0.1:80/authenticate/login", data=form, headers={{"Cookie": cookie}})
try:
    location = web.open(login, timeout=30).headers.get("Location", "")
except urllib.error.HTTPError as answer:
    location = answer.headers.get("Location", "")
if "/browser" in location:
    print("pgadmin login {email} accepted")
    sys.exit(0)
sys.argv = ["setup.py", "update-user", "{email}", "--password", password, "--admin", "--no-console"]
sys.path.insert(0, "/pgadmin4")
runpy.run_path("/pgadmin4/setup.py", run_name="__main__")
print("pgadmin login {email} reconciled")
PY
"""


def declare(ctx: HostContext, enable_psql: bool = False) -> ServiceResult:
    password = ctx.password("pgadmin", "admin-password")
    email = f"admin@{ctx.domain}"
    servers = render_servers_json(
        [
            PgServer("postgres-service (MLflow)", "postgres-service", "postgres"),
            PgServer("postgres-data", "postgres-data", "postgres"),
        ],
        CA_FILE,
    )
    data = ctx.volume("pgadmin", "data")
    image = pinned_image(f"{ctx.name}-pgadmin-image", ctx.cfg.images.pgadmin, ctx.opts)
    container = make_container(
        f"{ctx.name}-pgadmin",
        ctx.container_name("pgadmin"),
        ContainerSpec(
            role="pgadmin",
            image=image.image_id,
            envs=[
                f"PGADMIN_DEFAULT_EMAIL={email}",
                f"PGADMIN_DEFAULT_PASSWORD_FILE={PASSWORD_FILE}",
                "PGADMIN_SERVER_JSON_FILE=/etc/dap/servers.json",
                "PGADMIN_DISABLE_POSTFIX=true",
                "PGADMIN_LISTEN_PORT=80",
                f"PGADMIN_CONFIG_ENABLE_PSQL={'True' if enable_psql else 'False'}",
                "PGADMIN_CONFIG_PROXY_X_FOR_COUNT=1",
                "PGADMIN_CONFIG_PROXY_X_PROTO_COUNT=1",
                "PGADMIN_CONFIG_PROXY_X_HOST_COUNT=1",
                "PGADMIN_CONFIG_SESSION_COOKIE_SECURE=True",
                # the login is admin@<domain>; internal domains (.test, .localhost, .internal) are
                # special-use names that pgAdmin's email check refuses unless allowed
                f"PGADMIN_CONFIG_ALLOW_SPECIAL_EMAIL_DOMAINS=['{ctx.domain.rsplit('.', 1)[-1]}']",
                "PGADMIN_CONFIG_GLOBALLY_DELIVERABLE=False",
            ],
            uploads=[
                Upload("/etc/dap/servers.json", servers),
                Upload(CA_FILE, ctx.pki.ca_pem),
                # pgAdmin runs as uid 5050 and reads the file itself; it is the only process in the container.
                Upload(PASSWORD_FILE, password.result, mode="0444"),
            ],
            volumes=[(data.name, "/var/lib/pgadmin")],
            networks=[
                NetworkAttachment(ctx.network_name("web"), [ALIAS]),
                NetworkAttachment(ctx.network_name("db")),
            ],
            healthcheck=["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:80/misc/ping"],
            memory_mb=ctx.cfg.memory_mb.pgadmin,
            # runs as uid 5050; its python carries the file capability to bind port 80, and exec fails
            # unless that capability is in the bounding set
            capabilities=["NET_BIND_SERVICE"],
        ),
        ctx.opts,
        docker_host=ctx.docker_host,
    )
    reconcile = ctx.step_in(container, f"{ctx.name}-pgadmin-credentials", reconcile_script(email), user="pgadmin")
    return ServiceResult(
        container=container,
        ready=reconcile,
        http_routes=[HttpRoute(ctx.fqdn("pgadmin"), ALIAS, 80)],
        urls={"pgadmin": ctx.public_url("pgadmin")},
        credentials={"pgadmin-email": email, "pgadmin-password": password.result},
    )
