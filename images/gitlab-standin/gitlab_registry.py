"""The container registry of the GitLab stand-in, wired the way Omnibus wires GitLab's own.

Omnibus runs the CNCF `distribution` registry next to Rails: the registry accepts only JSON Web Tokens
that GitLab signs (`auth: token`, realm `<external_url>/jwt/auth`, service `container_registry`, issuer
`omnibus-gitlab-issuer`); clients log in at GitLab with a password or a personal access token and get a
token scoped to the repositories and actions they asked for. The stand-in does the same with the
registry binary built from the `distribution` Go module (/opt/gitlab/embedded/bin/registry):

- `init_registry()` (root, first thing in /assets/wrapper) reads `registry_external_url`,
  `external_url`, `gitlab_rails['registry_enabled']` and `registry_nginx['listen_port']` from gitlab.rb /
  GITLAB_OMNIBUS_CONFIG, makes the token signing key and its self-signed certificate on first boot (as
  Omnibus makes gitlab-registry.key), and writes the registry's config.
- `issue_token()` answers GET /jwt/auth.

Only the standard library and Debian's openssl CLI (RS256 signatures) are used.
"""
import base64
import json
import os
import re
import secrets
import subprocess
import time

REGISTRY_DIR = os.environ.get("GITLAB_STANDIN_REGISTRY_DIR", "/var/opt/gitlab/registry")
DATA_DIR = os.environ.get("GITLAB_STANDIN_REGISTRY_DATA", "/var/opt/gitlab/gitlab-rails/shared/registry")
KEY_FILE = os.path.join(REGISTRY_DIR, "gitlab-registry.key")
CERT_FILE = os.path.join(REGISTRY_DIR, "gitlab-registry.crt")
SECRET_FILE = os.path.join(REGISTRY_DIR, "http-secret")
CONFIG_FILE = os.path.join(REGISTRY_DIR, "config.yml")
ISSUER = "omnibus-gitlab-issuer"  # Omnibus' default gitlab_rails['registry_issuer']
SERVICE = "container_registry"
TOKEN_TTL = 300  # seconds; GitLab's default container_registry_token_expire_delay is 5 minutes
DEFAULT_PORT = 5050

# What a credential may do to a repository, by personal access token scope (GitLab's rules, simplified:
# the stand-in has no projects, so every repository path is root's).
SCOPE_ACTIONS = {
    "read_registry": {"pull"},
    "write_registry": {"pull", "push"},
    "api": {"pull", "push", "delete", "*"},
}


def _setting(texts, pattern):
    value = None
    for text in texts:
        for m in re.finditer(pattern, text, re.M):
            value = m.group(1)
    return value


def settings(texts):
    """{'enabled', 'external_url', 'registry_url', 'port'} from the Omnibus config texts (later wins)."""
    q = r"""['"]([^'"]+)['"]"""
    registry_url = _setting(texts, r"^\s*registry_external_url\s+" + q)
    enabled = _setting(texts, r"""^\s*gitlab_rails\[\s*['"]registry_enabled['"]\s*\]\s*=\s*(true|false)""")
    port = _setting(texts, r"""^\s*registry_nginx\[\s*['"]listen_port['"]\s*\]\s*=\s*(\d+)""")
    return {
        "enabled": bool(registry_url) and enabled != "false",
        "external_url": (_setting(texts, r"^\s*external_url\s+" + q) or "http://gitlab").rstrip("/"),
        "registry_url": (registry_url or "").rstrip("/"),
        "port": int(port or DEFAULT_PORT),
    }


def render_config(s, http_secret):
    """The registry's config.yml (JSON is YAML), as Omnibus renders it for a registry behind its nginx."""
    return json.dumps({
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": DATA_DIR}, "delete": {"enabled": True},
                    "maintenance": {"uploadpurging": {"enabled": True, "age": "168h", "interval": "24h",
                                                     "dryrun": False}}},
        "http": {"addr": f":{s['port']}", "secret": http_secret, "host": s["registry_url"],
                 "headers": {"X-Content-Type-Options": ["nosniff"]}},
        "auth": {"token": {"realm": s["external_url"] + "/jwt/auth", "service": SERVICE, "issuer": ISSUER,
                           "rootcertbundle": CERT_FILE, "autoredirect": False}},
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }, indent=1) + "\n"


def init_registry(texts, uid, gid):
    """Root, at container start: key + certificate on first boot, config every boot. False if disabled."""
    s = settings(texts)
    if not s["enabled"]:
        return False
    os.makedirs(REGISTRY_DIR, exist_ok=True)
    os.makedirs(DATA_DIR, exist_ok=True)
    if not (os.path.exists(KEY_FILE) and os.path.exists(CERT_FILE)):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:3072", "-nodes", "-sha256", "-days", "3650",
                        "-subj", "/CN=gitlab-registry-token-issuer", "-keyout", KEY_FILE, "-out", CERT_FILE],
                       check=True, capture_output=True)
        print("gitlab-standin: registry token signing key and certificate created (first boot)")
    if not os.path.exists(SECRET_FILE):
        with open(os.open(SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(secrets.token_hex(32))
    with open(SECRET_FILE) as f:
        http_secret = f.read().strip()
    tmp = CONFIG_FILE + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(render_config(s, http_secret))
    os.replace(tmp, CONFIG_FILE)
    for path in (KEY_FILE, SECRET_FILE, CONFIG_FILE):
        os.chmod(path, 0o600)
    data_parents = [DATA_DIR, os.path.dirname(DATA_DIR), os.path.dirname(os.path.dirname(DATA_DIR))]
    for path in (REGISTRY_DIR, *data_parents, KEY_FILE, CERT_FILE, SECRET_FILE, CONFIG_FILE):
        os.chown(path, uid, gid)
    print(f"gitlab-standin: registry on :{s['port']} for {s['registry_url']}, tokens from {s['external_url']}/jwt/auth")
    return True


def parse_scopes(values):
    """['repository:group/app:push,pull', ...] (space-separated too) -> [(type, name, {actions})]."""
    out = []
    for value in values:
        for scope in value.split():
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1]
            out.append((typ, name, {a for a in actions.split(",") if a}))
    return out


def grant(requested, token_scopes):
    """GitLab's access list for a token: what each requested scope allows of what was asked."""
    allowed = set().union(*(SCOPE_ACTIONS.get(s, set()) for s in token_scopes)) if token_scopes else set()
    access = []
    for typ, name, actions in requested:
        if typ == "repository":
            got = actions & allowed
        elif typ == "registry" and name == "catalog":
            got = actions & {"*"} & allowed  # admins only
        else:
            got = set()
        access.append({"type": typ, "name": name, "actions": sorted(got)})
    return access


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def certificate_der():
    with open(CERT_FILE, encoding="ascii") as f:
        pem = f.read()
    body = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", pem, re.S).group(1)
    return base64.b64decode("".join(body.split()))


def issue_token(subject, access, now=None):
    """An RS256 JWT the registry trusts: signed by the registry key, the certificate in its x5c header."""
    now = int(now or time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(certificate_der()).decode()]}
    claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "iat": now, "nbf": now - 5,
              "exp": now + TOKEN_TTL, "jti": secrets.token_hex(16), "access": access}
    signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY_FILE], input=signing_input.encode(),
                         capture_output=True, check=True).stdout
    return signing_input + "." + _b64url(sig)
