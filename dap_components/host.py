"""A Docker host of the platform as one object: its provider, and what the things placed on it need to know
about it (the network its proxy shares with them, how its containers reach the service host)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import pulumi
import pulumi_docker as docker

from .config import ENVIRONMENTS, ImagesConfig, PlatformConfig, RunnerHostEntry
from .containers import environment_image, environment_tag, pinned_image


def slug(text: str) -> str:
    """``text`` spelled with lowercase letters, digits and single dashes, as a resource name part."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def host_slug(docker_host: str) -> str:
    """A stable resource name for a Docker host, independent of its position in the config."""
    return slug(docker_host.split("://", 1)[-1])[:50] or "local"


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
    socket: Optional[str] = None  # the engine's socket on that host (its watchdog mounts it); see docker_socket
    # Filled in as the platform is declared:
    front_network: Optional[pulumi.Input[str]] = None  # the network its proxy shares with dev environments
    runner_network: Optional[pulumi.Input[str]] = None  # the network runners join (None: each makes its own)
    # /etc/hosts entries by which its containers reach the service host's proxy (none on the service host)
    platform_hosts: Sequence[tuple[str, str]] = field(default_factory=tuple)
    _images: dict[str, docker.RemoteImage] = field(default_factory=dict, repr=False)

    @property
    def docker_socket(self) -> str:
        if self.socket:
            return self.socket
        if self.docker_host.startswith("unix://"):
            return self.docker_host.removeprefix("unix://")
        return "/var/run/docker.sock"

    @property
    def opts(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(providers=[self.provider])

    def image(self, ref: str) -> docker.RemoteImage:
        """One pinned image per reference on this host, shared by every runner placed here (n runners, one
        image resource: scaling adds and removes only runner resources)."""
        if ref not in self._images:
            self._images[ref] = pinned_image(f"{self.key}-image-{slug(ref)}", ref, pulumi.ResourceOptions(provider=self.provider))
        return self._images[ref]

    def environment(self, environment: str, images: ImagesConfig) -> docker.RemoteImage:
        """The image of a dev environment on this host: built once per host whatever the number of dev
        environments using it, after the environment it is built FROM (dev-python-r on dev-python); or the
        prebuilt image the stack names."""
        key = f"environment:{environment}"
        if key not in self._images:
            prebuilt, parent = images.prebuilt(environment), ENVIRONMENTS[environment]
            after = [self.environment(parent, images)] if parent is not None and not prebuilt else []
            self._images[key] = environment_image(
                f"{self.key}-{environment}-image",
                environment,
                environment_base(environment, images),
                prebuilt,
                pulumi.ResourceOptions(provider=self.provider, depends_on=after),
            )
        return self._images[key]


def environment_ref(environment: str, images: ImagesConfig) -> str:
    """The image reference of an environment on every host: the prebuilt one, or the tag it is built under."""
    return images.prebuilt(environment) or environment_tag(environment, environment_base(environment, images))


def job_image_variable(environment: str) -> str:
    """The CI/CD variable naming an environment's image for jobs: dev-python-r -> DAP_IMAGE_DEV_PYTHON_R."""
    return "DAP_IMAGE_" + environment.upper().replace("-", "_")


def environment_base(environment: str, images: ImagesConfig) -> str:
    """The image an environment is built FROM: images.pythonBase, or the tag of the environment it extends."""
    parent = ENVIRONMENTS[environment]
    if parent is None:
        return images.python_base
    return environment_ref(parent, images)


@dataclass
class Hosts:
    """Every Docker host the config names, each with one explicit provider, made whether or not anything is
    placed on it yet, so that scaling runnerCount never adds or removes a provider."""

    service: DockerHost
    others: list[DockerHost]  # distinct, in config order
    for_runner_entry: list[DockerHost]  # runnerHosts[i] -> its host (the service host when it names that engine)

    @classmethod
    def from_config(cls, cfg: PlatformConfig) -> "Hosts":
        service = DockerHost("service", cfg.service_host.docker_host, docker_provider("docker-service", cfg.service_host.docker_host, None),
                             socket=cfg.service_host.docker_socket)
        by_address = {service.docker_host: service}
        for_entry = []
        for entry in cfg.runner_hosts:
            if entry.docker_host not in by_address:
                key = host_slug(entry.docker_host)
                by_address[entry.docker_host] = DockerHost(key, entry.docker_host, docker_provider(f"docker-{key}", entry.docker_host, entry),
                                                           socket=entry.docker_socket)
            for_entry.append(by_address[entry.docker_host])
        return cls(service, [h for h in by_address.values() if h is not service], for_entry)

    def for_runner(self, index: int) -> DockerHost:
        """Runners go round robin over runnerHosts; on the service host when there are none."""
        return self.for_runner_entry[index % len(self.for_runner_entry)] if self.for_runner_entry else self.service

    def for_environment(self, host: Any) -> DockerHost:
        return self.service if host == "service" else self.for_runner_entry[host]
