"""Portainer (optional): needs the Docker socket, so it is off unless `portainer.enabled`."""

from __future__ import annotations

import shlex

import pulumi

from ..containers import ContainerSpec, NetworkAttachment, Upload, make_container, pinned_image
from ..docker_exec import docker_host_script
from ..routes import HttpRoute
from .base import SECRETS_DIR, HostContext, ServiceResult

ALIAS = "portainer"
PORT = 9000
DATABASE = "portainer.db"


def reconcile_script(container: str, network: str, volume: str, tools_image: str) -> str:
    """Portainer takes --admin-password-file on its first start only and has no command to reset it. When the
    stack's password (stdin) is refused, its database (Portainer's own settings; no platform data) is moved
    aside in the volume, dated, and Portainer restarts and initialises from the file again. Its image has no
    shell, so the checks run from ``tools_image`` (the proxy's: curl and sh) on its network."""
    c, n, v, i = (shlex.quote(x) for x in (container, network, volume, tools_image))
    return f"""set -eu
read -r pw
login() {{
  printf '{{"username":"admin","password":"%s"}}' "$pw" |
    docker run --rm -i --network {n} --entrypoint curl {i} -s -o /dev/null -w '%{{http_code}}' \
      -H 'Content-Type: application/json' --data-binary @- http://{ALIAS}:{PORT}/api/auth || true
}}
answer() {{ for _ in $(seq 1 60); do code=$(login); [ "$code" != 000 ] && break; sleep 1; done; echo "$code"; }}
code=$(answer)
if [ "$code" = 200 ]; then echo "admin password accepted"; exit 0; fi
echo "admin password refused ($code): moving {DATABASE} aside"
docker stop {c} >/dev/null
docker run --rm -v {v}:/data --entrypoint sh {i} -c \
  'mv /data/{DATABASE} "/data/{DATABASE}.replaced-$(date -u +%Y%m%dT%H%M%SZ)"'
docker start {c} >/dev/null
code=$(answer)
[ "$code" = 200 ] || {{ echo "admin password still refused ($code)" >&2; exit 1; }}
echo "admin password accepted after re-initialisation"
"""


def declare(ctx: HostContext) -> ServiceResult:
    password = ctx.password("portainer", "admin-password")
    data = ctx.volume("portainer", "data")
    image = pinned_image(f"{ctx.name}-portainer-image", ctx.cfg.images.portainer, ctx.opts)
    container = make_container(
        f"{ctx.name}-portainer",
        ctx.container_name("portainer"),
        ContainerSpec(
            role="portainer",
            image=image.image_id,
            # The admin password is set at first start: no initial-setup window, no lockout.
            command=["--admin-password-file", f"{SECRETS_DIR}/portainer_admin_password", "--http-enabled"],
            uploads=[Upload(f"{SECRETS_DIR}/portainer_admin_password", password.result, mode="0400")],
            volumes=[(data.name, "/data")],
            binds=[("/var/run/docker.sock", "/var/run/docker.sock", False)],
            networks=[NetworkAttachment(ctx.network_name("web"), [ALIAS])],
            # The official image is FROM scratch: no shell, curl or wget. The only probe it allows is its own
            # binary, so this checks the image is runnable, not that the API answers (the proxy route does).
            healthcheck=["CMD", "/portainer", "--help"],
            memory_mb=ctx.cfg.memory_mb.portainer,
        ),
        ctx.opts,
        docker_host=ctx.docker_host,
    )
    tools = pinned_image(f"{ctx.name}-portainer-tools-image", ctx.cfg.images.nginx, ctx.opts)
    reconcile = docker_host_script(
        f"{ctx.name}-portainer-credentials",
        docker_host=ctx.docker_host,
        script=pulumi.Output.all(container.name, ctx.network_name("web"), data.name, tools.image_id).apply(
            lambda a: reconcile_script(*a)
        ),
        stdin=pulumi.Output.concat(password.result, "\n"),
        triggers=[container.id],
        opts=ctx.after(container.ready),
    )
    return ServiceResult(
        container=container,
        ready=reconcile,
        http_routes=[HttpRoute(ctx.fqdn("portainer"), ALIAS, PORT, timeout_seconds=300)],
        urls={"portainer": ctx.public_url("portainer")},
        credentials={"portainer-username": "admin", "portainer-password": password.result},
    )
