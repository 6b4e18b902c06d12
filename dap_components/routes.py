"""Plain route values shared by the proxy component and the nginx renderer (no Pulumi types)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


def public_url(hostname: str, https_port: int) -> str:
    """The one way a public URL is spelled: https://<hostname>, with the port unless it is 443."""
    return f"https://{hostname}" + ("" if https_port == 443 else f":{https_port}")


@dataclass(frozen=True)
class HttpRoute:
    """One HTTPS virtual host: https://<hostname> -> http://<upstream_host>:<upstream_port>."""

    hostname: str
    upstream_host: str
    upstream_port: int
    max_body_size: str = "16m"  # nginx size; "0" = unlimited
    buffering: bool = True  # False streams request and response bodies (S3, registry blobs)
    basic_auth_file: Optional[str] = None  # htpasswd path inside the proxy container
    timeout_seconds: int = 60
    # $http_host keeps a non-default port, which S3 signatures (SigV4 signs the Host header) need
    host_header: str = "$host"

    @property
    def upstream(self) -> str:
        return f"{self.upstream_host}:{self.upstream_port}"


@dataclass(frozen=True)
class StreamRoute:
    """One TCP stream: <listen_port> on the proxy -> <upstream_host>:<upstream_port> (TLS end to end)."""

    name: str
    listen_port: int
    upstream_host: str
    upstream_port: int
    hostname: Optional[str] = None  # the name clients connect to (on the proxy's certificate and aliases)
    timeout_seconds: int = 3600

    @property
    def upstream(self) -> str:
        return f"{self.upstream_host}:{self.upstream_port}"
