"""nginx.conf for a host's reverse proxy."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import jinja2

from ..routes import HttpRoute, StreamRoute

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)

TLS_DIR = "/etc/nginx/dap/tls"
CERTIFICATE = f"{TLS_DIR}/fullchain.pem"
CERTIFICATE_KEY = f"{TLS_DIR}/privkey.pem"
HTPASSWD_DIR = "/etc/nginx/dap/htpasswd"
HTTPS_PORT = 443  # inside the proxy container
HTTP_PORT = 80


def render_nginx_conf(
    http_routes: Sequence[HttpRoute],
    stream_routes: Sequence[StreamRoute] = (),
    *,
    public_https_port: int = 443,
    https_port: int = HTTPS_PORT,
    http_port: int = HTTP_PORT,
    certificate: str = CERTIFICATE,
    certificate_key: str = CERTIFICATE_KEY,
    user: str | None = "nginx",
    pid_file: str = "/var/run/nginx.pid",
    mime_types: str = "/etc/nginx/mime.types",
    resolver: str = "127.0.0.11",
) -> str:
    """The proxy configuration: HTTPS per route, port 80 redirects only, a 404 default server, TCP streams."""
    names = [r.hostname for r in http_routes]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate hostnames in routes: {sorted(n for n in set(names) if names.count(n) > 1)}")
    ports = [s.listen_port for s in stream_routes]
    # Inside the container nginx listens on 443 and, when it differs, on the public HTTPS port too, so
    # https://<name>:<public port> works from the host and from containers (through network aliases).
    https_ports = sorted({https_port, public_https_port})
    clash = set(ports) & {*https_ports, http_port} or (len(set(ports)) != len(ports))
    if clash:
        raise ValueError(f"stream ports must be unique and differ from {http_port}/{https_ports}: {ports}")
    return _ENV.get_template("nginx.conf.j2").render(
        http_routes=sorted(http_routes, key=lambda r: r.hostname),
        stream_routes=sorted(stream_routes, key=lambda s: s.listen_port),
        https_ports=https_ports,
        public_https_port=public_https_port,
        http_port=http_port,
        https_port_suffix="" if public_https_port == 443 else f":{public_https_port}",
        certificate=certificate,
        certificate_key=certificate_key,
        user=user,
        pid_file=pid_file,
        mime_types=mime_types,
        resolver=resolver,
    )


def render_htpasswd(username: str, bcrypt_hash: str) -> str:
    """One htpasswd line; nginx verifies $2a$/$2b$ bcrypt hashes through the system crypt(3)."""
    if ":" in username or "\n" in username:
        raise ValueError("username must not contain ':' or newlines")
    if not bcrypt_hash.startswith(("$2a$", "$2b$", "$2y$")):
        raise ValueError("expected a bcrypt hash ($2a$/$2b$/$2y$)")
    return f"{username}:{bcrypt_hash}\n"
