"""The one way this program declares a long-running container, so every one of them gets the same
guarantees: pinned image, restart policy, healthcheck, log rotation, labels, delete-before-replace."""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

LOG_OPTS = {"max-size": "10m", "max-file": "3"}
HEALTH_TIMEOUT = 10  # seconds
HEALTH_INTERVAL_MAX = 30  # no container's healthcheck runs less often (the engine notices a failure within it)
REPO_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS_DIR = REPO_ROOT / "environments"


@dataclass(frozen=True)
class Upload:
    """A file placed in the container before it starts. ``content`` may be a secret Output."""

    path: str
    content: pulumi.Input[str]
    mode: str = "0444"


@dataclass(frozen=True)
class NetworkAttachment:
    network: pulumi.Input[str]  # the network's name
    aliases: Sequence[str] = ()


@dataclass
class ContainerSpec:
    role: str  # e.g. "gitlab"; the Docker container is named f"{prefix}-{role}"
    image: pulumi.Input[str]  # an image id (from RemoteImage.image_id)
    healthcheck: Sequence[str]  # Docker healthcheck test, e.g. ["CMD", "pg_isready"]
    networks: Sequence[NetworkAttachment]
    network_mode: Optional[str] = None  # "none": no network at all (networks must then be empty)
    command: Optional[Sequence[pulumi.Input[str]]] = None
    entrypoint: Optional[Sequence[str]] = None
    envs: Sequence[pulumi.Input[str]] = ()
    uploads: Sequence[Upload] = ()
    volumes: Sequence[tuple[pulumi.Input[str], str]] = ()  # (volume name, container path)
    binds: Sequence[tuple[str, str, bool]] = ()  # (host path, container path, read only)
    ports: Sequence[tuple[int, int, str]] = ()  # (internal, external, host ip)
    hosts: Sequence[tuple[str, pulumi.Input[str]]] = ()  # extra /etc/hosts entries
    memory_mb: Optional[int] = None
    cpus: Optional[float] = None
    shm_size_mb: Optional[int] = None
    user: Optional[str] = None
    # Seconds. Docker reports durations back as Go duration strings ("1m0s"); go_duration() declares
    # them that way so a refresh finds no drift. No start_interval: it needs Engine API 1.44. Readiness at
    # deploy time does not wait for these checks (readiness_script), so the interval only sets how soon the
    # engine notices a failure, against the load of running the check on an idle platform.
    health_interval: int = 15
    health_start_period: int = 60
    health_retries: int = 5
    wait_timeout: int = 300
    gpus: Optional[str] = None
    labels: dict[str, str] = field(default_factory=dict)
    # None keeps Docker's default capability set (images that need it: GitLab Omnibus, sshd, runners);
    # a list drops every capability but these.
    capabilities: Optional[Sequence[str]] = None


def go_duration(seconds: int) -> str:
    """Seconds as Go's time.Duration.String() prints them, which is how Docker reports durations."""
    if seconds <= 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def capability_args(keep: Optional[Sequence[str]]) -> Optional[docker.ContainerCapabilitiesArgs]:
    """Drop every capability but ``keep``, spelled as the engine reports them (CAP_CHOWN, not chown)."""
    if keep is None:
        return None
    adds = sorted({c.upper() if c.upper().startswith("CAP_") else f"CAP_{c.upper()}" for c in keep})
    return docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=adds)


@dataclass(frozen=True)
class Started:
    """A declared container and what its dependents wait for: the step that saw it ready."""

    container: docker.Container
    ready: pulumi.Resource

    @property
    def name(self) -> pulumi.Output[str]:
        return self.container.name

    @property
    def id(self) -> pulumi.Output[str]:
        return self.container.id


READY_POLL = 0.5  # seconds between two readiness probes


def readiness_script(container_name: str, healthcheck: Sequence[str], timeout: int) -> str:
    """Runs the container's own healthcheck with `docker exec` every READY_POLL seconds until it passes.

    Docker runs a healthcheck first one whole `interval` after the start, and engines below API 1.44 have no
    start_interval, so waiting for the engine's "healthy" costs up to an interval per container on the
    dependency chain. This step answers as soon as the service does, on every engine."""
    if healthcheck[0] == "CMD-SHELL":
        probe = ["/bin/sh", "-c", healthcheck[1]]
    else:
        probe = list(healthcheck[1:])
    name = shlex.quote(container_name)
    run = " ".join(shlex.quote(a) for a in probe)
    return (
        "set -u\n"
        "start=$(date +%s)\n"
        # each probe bounded like the engine's own (a hung probe must not outlast the step's timeout)
        f"until timeout {HEALTH_TIMEOUT} docker exec {name} {run} >/dev/null 2>&1; do\n"
        f"  if [ $(( $(date +%s) - start )) -ge {int(timeout)} ]; then\n"
        f"    echo \"{container_name} not ready after {int(timeout)} s: $(docker inspect -f '{{{{.State.Status}}}} {{{{.RestartCount}}}} restarts' {name})\" >&2\n"
        "    exit 1\n"
        "  fi\n"
        f"  sleep {READY_POLL}\n"
        "done\n"
        f"echo \"{container_name} ready after $(( $(date +%s) - start )) s\"\n"
    )


def make_container(
    resource_name: str,
    container_name: str,
    spec: ContainerSpec,
    opts: pulumi.ResourceOptions,
    docker_host: Optional[str] = None,
) -> Started:
    """The container, and its readiness: a step polling its healthcheck where the docker CLI reaches its host
    (unix:// or ssh://, given as ``docker_host``), else the provider's wait for the engine's "healthy"."""
    labels = {"dap.role": spec.role, **spec.labels}
    poll = docker_host is not None and not docker_host.startswith("tcp://")
    container = docker.Container(
        resource_name,
        name=container_name,
        image=spec.image,
        restart="unless-stopped",
        command=list(spec.command) if spec.command is not None else None,
        entrypoints=list(spec.entrypoint) if spec.entrypoint is not None else None,
        envs=list(spec.envs) or None,
        user=spec.user,
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=list(spec.healthcheck),
            interval=go_duration(spec.health_interval),
            timeout=go_duration(HEALTH_TIMEOUT),
            start_period=go_duration(spec.health_start_period),
            retries=spec.health_retries,
        ),
        wait=not poll,
        wait_timeout=spec.wait_timeout,
        log_driver="json-file",
        log_opts=LOG_OPTS,
        labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(labels.items())],
        network_mode=spec.network_mode,
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(name=n.network, aliases=list(n.aliases) or None) for n in spec.networks
        ]
        or None,
        uploads=[
            docker.ContainerUploadArgs(file=u.path, content=u.content, permissions=u.mode) for u in spec.uploads
        ]
        or None,
        volumes=[docker.ContainerVolumeArgs(volume_name=v, container_path=p) for v, p in spec.volumes]
        + [docker.ContainerVolumeArgs(host_path=h, container_path=p, read_only=ro) for h, p, ro in spec.binds]
        or None,
        ports=[docker.ContainerPortArgs(internal=i, external=e, ip=ip, protocol="tcp") for i, e, ip in spec.ports]
        or None,
        hosts=[docker.ContainerHostArgs(host=h, ip=ip) for h, ip in spec.hosts] or None,
        memory=spec.memory_mb,
        # No swap beyond the limit. Left unset, the engine reports twice the limit and every preview
        # would plan an update.
        memory_swap=spec.memory_mb,
        cpus=str(spec.cpus) if spec.cpus is not None else None,
        shm_size=spec.shm_size_mb,
        gpus=spec.gpus,
        security_opts=["no-new-privileges:true"],
        capabilities=capability_args(spec.capabilities),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True)),
    )
    if not poll:
        return Started(container, container)
    ready = command.local.Command(
        f"{resource_name}-ready",
        create=readiness_script(container_name, spec.healthcheck, spec.wait_timeout),
        environment={"DOCKER_HOST": docker_host},
        triggers=[container.id],
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[container])),
    )
    return Started(container, ready)


def pinned_image(resource_name: str, ref: str, opts: pulumi.ResourceOptions) -> docker.RemoteImage:
    """A pinned image on the host of ``opts``' provider, kept on the host when the stack is destroyed."""
    return docker.RemoteImage(resource_name, name=ref, keep_locally=True, opts=opts)


def context_hash(directory: Path) -> str:
    """A stable digest of a build context (file names, modes and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        digest.update(rel.encode() + b"\0" + oct(path.stat().st_mode & 0o777).encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def environment_tag(environment: str, base_image: str) -> str:
    """The tag an environment is built under: a digest of its build context and of the image it is built
    FROM, so a change to either gives a new tag (and a rebuild), and nothing else does."""
    digest = hashlib.sha256(f"{context_hash(ENVIRONMENTS_DIR / environment)}\0{base_image}".encode()).hexdigest()[:12]
    return f"dap-local/{environment}:{digest}"


def environment_image(
    resource_name: str, environment: str, base_image: str, prebuilt: Optional[str], opts: pulumi.ResourceOptions
) -> docker.RemoteImage:
    """An image from environments/<environment>, built on the target host FROM ``base_image`` and tagged by
    environment_tag(); or a prebuilt image when the stack names one under ``images``."""
    if prebuilt:
        return pinned_image(resource_name, prebuilt, opts)
    return docker.RemoteImage(
        resource_name,
        name=environment_tag(environment, base_image),
        keep_locally=True,
        build=docker.RemoteImageBuildArgs(
            context=str(ENVIRONMENTS_DIR / environment),
            dockerfile="Dockerfile",
            build_args={"BASE_IMAGE": base_image},
            use_legacy_builder=True,
            labels={"dap.environment": environment},
        ),
        opts=opts,
    )
