"""A Docker host of the platform as one object: its provider, and what the things placed on it need to know
about it (the network its proxy shares with them, how its containers reach the service host)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import pulumi
import pulumi_docker as docker

from .config import PlatformConfig, RunnerHostEntry
from .containers import pinned_image


def host_slug(docker_host: str) -> str:
    """A stable resource name for a Docker host, independent of its position in the config."""
    return re.sub(r"[^a-z0-9]+", "-", docker_host.lower().split("://", 1)[-1]).strip("-")[:50] or "local"


def docker_provider(name: str, docker_host: str, entry: Optional[RunnerHostEntry]) -> docker.Provider:
    kwargs: dict[str, Any] = {"host": docker_host}
    if entry is not None and entry.ssh_opts:
        kwargs["ssh_opts"] = list(entry.ssh_opts)
    if entry is not None and entry.ca_material:
        kwargs["ca_material"] = entry.ca_material
        kwargs["cert_material"] = entry.cert_material
        kwargs["key_material"] = pulumi.Output.secret(entry.key_material.get_secret_value())  # type: ignore[union-attr]
    return docker.Provider(name, **kwargs)


@dataclass(eq=False)  # one object per host: compared and hashed by identity
class DockerHost:
    key: str  # "service", or the slug of its address: names its provider and its proxy
    docker_host: str  # unix://, ssh:// or tcp:// address
    provider: docker.Provider
    # Filled in as the platform is declared:
    front_network: Optional[pulumi.Input[str]] = None  # the network its proxy shares with dev environments
    runner_network: Optional[pulumi.Input[str]] = None  # the network runners join (None: each makes its own)
    # /etc/hosts entries by which its containers reach the service host's proxy (none on the service host)
    platform_hosts: Sequence[tuple[str, str]] = field(default_factory=tuple)
    _images: dict[str, docker.RemoteImage] = field(default_factory=dict, repr=False)

    @property
    def opts(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(providers=[self.provider])

    def image(self, ref: str) -> docker.RemoteImage:
        """One pinned image per reference on this host, shared by every runner placed here (n runners, one
        image resource: scaling adds and removes only runner resources)."""
        if ref not in self._images:
            slug = re.sub(r"[^a-z0-9]+", "-", ref.lower()).strip("-")
            self._images[ref] = pinned_image(f"{self.key}-image-{slug}", ref, pulumi.ResourceOptions(provider=self.provider))
        return self._images[ref]


@dataclass
class Hosts:
    """Every Docker host the config names, each with one explicit provider, made whether or not anything is
    placed on it yet, so that scaling runnerCount never adds or removes a provider."""

    service: DockerHost
    others: list[DockerHost]  # distinct, in config order
    for_runner_entry: list[DockerHost]  # runnerHosts[i] -> its host (the service host when it names that engine)

    @classmethod
    def from_config(cls, cfg: PlatformConfig) -> "Hosts":
        service = DockerHost("service", cfg.service_host.docker_host, docker_provider("docker-service", cfg.service_host.docker_host, None))
        by_address = {service.docker_host: service}
        for_entry = []
        for entry in cfg.runner_hosts:
            if entry.docker_host not in by_address:
                key = host_slug(entry.docker_host)
                by_address[entry.docker_host] = DockerHost(key, entry.docker_host, docker_provider(f"docker-{key}", entry.docker_host, entry))
            for_entry.append(by_address[entry.docker_host])
        return cls(service, [h for h in by_address.values() if h is not service], for_entry)

    def for_runner(self, index: int) -> DockerHost:
        """Runners go round robin over runnerHosts; on the service host when there are none."""
        return self.for_runner_entry[index % len(self.for_runner_entry)] if self.for_runner_entry else self.service

    def for_environment(self, host: Any) -> DockerHost:
        return self.service if host == "service" else self.for_runner_entry[host]
