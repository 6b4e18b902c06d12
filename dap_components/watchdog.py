"""dap-watchdog: one small container per Docker host that starts the stack's containers again when they stop and
Docker's restart policy will not (a `docker kill` counts as a manual stop). The agent is
dap_components/watchdog_agent.py (Python standard library), uploaded into a pinned Python image.

It mounts that host's Docker socket (root-equivalent, like the runners' and Portainer's) and nothing else: no
network at all, every capability dropped, no new privileges, 64 MB. It is declared after every other container of
its host, so `pulumi up` creates it last and `pulumi destroy` removes it first (it never restarts a container
Pulumi is taking down)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pulumi

from .config import WatchdogConfig
from .containers import ContainerSpec, Started, Upload, make_container
from .host import DockerHost
from .watchdog_agent import PREFIX_LABEL
from .watchdog_agent import WATCHDOG_ROLE as ROLE
AGENT = Path(__file__).with_name("watchdog_agent.py")
AGENT_PATH = "/opt/dap/watchdog.py"


def declare(host: DockerHost, prefix: str, image_ref: str, cfg: WatchdogConfig, after: Sequence[pulumi.Resource]) -> Started:
    image = host.image(image_ref)
    watch_prefix = f"{prefix}-"
    return make_container(
        f"{host.key}-watchdog",
        f"{prefix}-{ROLE}",
        ContainerSpec(
            role=ROLE,
            image=image.image_id,
            command=["python3", AGENT_PATH],
            envs=[f"DAP_PREFIX={watch_prefix}", f"DAP_WATCH_INTERVAL={cfg.interval_seconds}"],
            uploads=[Upload(AGENT_PATH, AGENT.read_text(), mode="0555")],
            binds=[(host.docker_socket, "/var/run/docker.sock", False)],
            networks=[],
            network_mode="none",
            healthcheck=["CMD", "python3", AGENT_PATH, "--healthcheck"],
            health_interval=15,
            health_start_period=10,
            memory_mb=64,
            capabilities=[],
            labels={PREFIX_LABEL: watch_prefix},
        ),
        pulumi.ResourceOptions.merge(host.opts, pulumi.ResourceOptions(depends_on=list(after))),
        docker_host=host.docker_host,
    )
