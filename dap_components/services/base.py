"""What every service module receives from its host, and what it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from ..config import PlatformConfig
from ..containers import Started
from ..docker_exec import docker_exec
from ..pki import StackPki
from ..rotation import rotating
from ..routes import HttpRoute, StreamRoute, public_url

from ..render import SECRETS_DIR  # noqa: F401  (re-exported for the service modules)


@dataclass
class HostContext:
    name: str  # the component's name, prefix of every child resource name
    prefix: str  # prefix of Docker object names on the host, e.g. "dap-dev"
    cfg: PlatformConfig
    pki: StackPki
    docker_host: str
    opts: pulumi.ResourceOptions  # parent + provider for children
    networks: dict[str, docker.Network]

    @property
    def domain(self) -> str:
        return self.cfg.domain

    def fqdn(self, label: str) -> str:
        return f"{label}.{self.cfg.domain}"

    def public_url(self, label: str) -> str:
        return public_url(self.fqdn(label), self.cfg.service_host.https_port)

    def container_name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def volume(self, role: str, purpose: str) -> docker.Volume:
        """A named state volume that outlives `pulumi destroy`, so a rebuild finds its data."""
        vol_name = f"{self.prefix}-{role}-{purpose}"
        return docker.Volume(
            f"{self.name}-{role}-{purpose}",
            name=vol_name,
            labels=[
                docker.VolumeLabelArgs(label="dap.role", value=role),
                docker.VolumeLabelArgs(label="dap.state", value="true"),
                docker.VolumeLabelArgs(label="dap.retain-on-delete", value="true"),
            ],
            opts=pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(retain_on_delete=True)),
        )

    def password(self, role: str, purpose: str, length: int = 32) -> random.RandomPassword:
        """A generated secret with URL-, env- and shell-safe characters only."""
        return random.RandomPassword(
            f"{self.name}-{role}-{purpose}",
            length=length,
            special=True,
            override_special="-_",
            min_lower=2,
            min_upper=2,
            min_numeric=2,
            opts=rotating(self.cfg.rotation, self.opts),
        )

    def after(self, *resources: pulumi.Resource) -> pulumi.ResourceOptions:
        """Children options that also wait for ``resources`` (e.g. a container's readiness)."""
        return pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(depends_on=list(resources)))

    def step_in(
        self,
        started: Started,
        resource_name: str,
        script: str,
        user: Optional[str] = None,
        stdin: Optional[pulumi.Input[str]] = None,
    ) -> pulumi.Resource:
        """A provisioning step run inside ``started`` once it is ready, and again whenever it is replaced (first
        boot, destroy + up, a changed uploaded file): what the container's state must be made to match."""
        return docker_exec(
            resource_name,
            docker_host=self.docker_host,
            container=started.name,
            script=script,
            user=user,
            stdin=stdin,
            triggers=[started.id],
            opts=self.after(started.ready),
        )

    def network_name(self, purpose: str) -> pulumi.Output[str]:
        return self.networks[purpose].name


@dataclass
class ServiceResult:
    container: Optional[Started]
    # What dependents wait for: the container (healthy) or, where a step must run first (credentials
    # reconciled, bucket made), that step.
    ready: Optional[pulumi.Resource] = None
    http_routes: list[HttpRoute] = field(default_factory=list)
    stream_routes: list[StreamRoute] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    htpasswd: dict[str, pulumi.Input[str]] = field(default_factory=dict)
