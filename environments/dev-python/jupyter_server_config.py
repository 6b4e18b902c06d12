# System-wide Jupyter Server config for the dap dev environment (/etc/jupyter, root-owned).
# The token is read from a file prepared by the entrypoint (copied from
# /run/secrets/dap/jupyter_token); it never appears on a command line or in the environment.
import os

c = get_config()  # noqa: F821

c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = int(os.environ.get("JUPYTER_PORT", "8888"))
c.ServerApp.open_browser = False
c.ServerApp.root_dir = "/home/dev"
c.ServerApp.allow_remote_access = True
c.ServerApp.allow_root = False
# Behind the platform's HTTPS reverse proxy: trust X-Forwarded-* / X-Real-Ip headers.
c.ServerApp.trust_xheaders = True
if os.environ.get("JUPYTER_BASE_URL"):
    c.ServerApp.base_url = os.environ["JUPYTER_BASE_URL"]
if os.environ.get("JUPYTER_ALLOW_ORIGIN"):
    c.ServerApp.allow_origin = os.environ["JUPYTER_ALLOW_ORIGIN"]

_token_file = os.environ.get("DAP_JUPYTER_TOKEN_FILE", "/run/dap-dev/jupyter_token")
with open(_token_file, encoding="utf-8") as _f:
    _token = _f.read().strip()
if not _token:
    raise SystemExit(f"empty Jupyter token in {_token_file}")
c.IdentityProvider.token = _token
# No password login and no way to set one from the web UI: the token is the credential.
c.PasswordIdentityProvider.allow_password_change = False
