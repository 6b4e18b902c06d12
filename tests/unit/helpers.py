"""Small readers of recorded resources, and a HostContext for declaring one service alone (not a test module)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_docker as docker

from tests.conftest import BASE_CONFIG, SECRET_MARK, _h

from dap_components.config import load_config
from dap_components.pki import StackPki
from dap_components.service_host import NETWORKS
from dap_components.services.base import HostContext

SECRET_SIG = "4dabf18193072939515e22adb298388d"


def env(container, key):
    for e in container.inputs.get("envs", []):
        if e.startswith(key + "="):
            return e.split("=", 1)[1]
    return None


def upload(container, path):
    for u in container.inputs.get("uploads", []):
        if u["file"] == path:
            return u
    raise AssertionError(f"{path} not uploaded; have {[u['file'] for u in container.inputs.get('uploads', [])]}")


def raw_upload(container, path):
    """The wire form of an upload (its content wrapped when secret)."""
    for u in container.raw.get("uploads", []):
        if u["file"] == path:
            return u
    raise AssertionError(f"{path} not uploaded")


def is_secret(wire: Any) -> bool:
    return isinstance(wire, dict) and SECRET_SIG in wire


def mock_pem(kind: str, name: str) -> str:
    """What the mocks (tests/conftest.py PlatformMocks) return for resource ``name``: its "cert", "csr" or "key"."""
    if kind == "cert":
        return f"-----BEGIN CERTIFICATE-----\n{_h(name)[:32]}\n-----END CERTIFICATE-----\n"
    if kind == "csr":
        return f"-----BEGIN CERTIFICATE REQUEST-----\n{_h(name)[:32]}\n-----END CERTIFICATE REQUEST-----\n"
    return f"-----BEGIN PRIVATE KEY-----\n{SECRET_MARK}{_h(name)[:32]}\n-----END PRIVATE KEY-----\n"


STACK_CA_PEM = mock_pem("cert", "stack-ca-cert")  # the stack CA's certificate under the mocks

# One config for the ``deployed`` tests of several modules (one cached run): a second Docker host with a runner
# and a dev environment of its own, another dev environment on the service host.
REMOTE_HOST = "ssh://ci@192.0.2.20"
TWO_HOSTS = {
    "runnerCount": 2, "serviceHost": {"address": "192.0.2.10"}, "runnerHosts": [{"dockerHost": REMOTE_HOST}],
    "devEnvironments": [{"name": "ann"}, {"name": "bob", "host": 0}],
}


def conf_of(d, container="dap-dev-proxy"):
    """The nginx.conf uploaded into a proxy container."""
    return upload(d.containers()[container], "/etc/nginx/nginx.conf")["content"]


def host_context(name: str = "svc", prefix: str = "dap-t", **config: Any) -> HostContext:
    """What ServiceHost hands its services (on serviceHost.dockerHost), with a component parent, the four networks
    and a stack CA. Call it inside a ``program`` function."""
    cfg = load_config({**BASE_CONFIG, **config})
    parent = pulumi.ComponentResource("test:index:Host", name, {}, None)
    child = pulumi.ResourceOptions(parent=parent)
    networks = {p: docker.Network(f"{name}-{p}-net", name=f"{prefix}-{p}", internal=internal, opts=child)
                for p, internal in NETWORKS.items()}
    pki = StackPki("stack", cfg.domain, cfg.tls)
    return HostContext(name=name, prefix=prefix, cfg=cfg, pki=pki, docker_host=cfg.service_host.docker_host, opts=child, networks=networks)
