"""The stack configuration contract: every key, its default and its validation, in one typed model.

Data flows one way: raw stack config (strings and JSON) -> :func:`load_config` -> a frozen
:class:`PlatformConfig` that each component receives a slice of.  Nothing else in the program
reads ``pulumi.Config``.  Errors name the key (``serviceHost.publishAddress``) and what is allowed,
and are raised before any resource is registered.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .ports import dev_ssh_port, reserved_ports

PROJECT = "data-analysis-platform"

# Official images, pinned.  Override any of them under the `images` key.
DEFAULT_IMAGES: dict[str, str] = {
    "nginx": "nginx:1.28.0-bookworm",
    "postgres": "postgres:17.6-bookworm",
    "minio": "minio/minio:RELEASE.2025-09-07T16-13-09Z",
    "pgadmin": "dpage/pgadmin4:9.8",
    "gitlab": "gitlab/gitlab-ce:18.5.1-ce.0",
    "gitlabRunner": "gitlab/gitlab-runner:v18.5.0",
    "portainer": "portainer/portainer-ce:2.33.2",
    "pythonBase": "python:3.12.12-slim-bookworm",
    "jobDefault": "python:3.12.12-slim-bookworm",
    "watchdog": "python:3.12.12-slim-bookworm",
}

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")
DNS_LABEL_RE = re.compile(rf"^{_LABEL}$")
# name[:tag] or name@sha256:digest; registry host with port allowed in the name part.
IMAGE_RE = re.compile(
    r"^(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
DOCKER_HOST_RE = re.compile(r"^(unix:///\S+|tcp://[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}|ssh://[A-Za-z0-9._-]+@[A-Za-z0-9.\-]+(?::[0-9]{1,5})?)$")


class ConfigError(ValueError):
    """Invalid stack configuration.  ``problems`` holds (key, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        lines = "\n".join(f"  - {key}: {msg}" for key, msg in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem(s)):\n{lines}")


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


def check_image(ref: str) -> str:
    m = IMAGE_RE.match(ref or "")
    if not m:
        raise ValueError(f"'{ref}' is not an image reference (name:tag or name@sha256:<digest>)")
    if not m.group("tag") and not m.group("digest"):
        raise ValueError(f"'{ref}' has no tag: pin a version tag or a digest")
    if m.group("tag") == "latest":
        raise ValueError(f"'{ref}' uses 'latest': pin a version tag or a digest")
    return ref


def check_docker_host(v: str) -> str:
    if not DOCKER_HOST_RE.match(v):
        raise ValueError(f"'{v}' is not a Docker host: use unix:///path, tcp://host:port or ssh://user@host[:port]")
    return v


def check_ip(v: str) -> str:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        raise ValueError(f"'{v}' is not an IP address (e.g. 0.0.0.0, 127.0.0.1 or 192.0.2.10)") from None
    return v


def check_socket_path(v: str) -> str:
    if not re.fullmatch(r"/[^\s:]+\.sock", v):
        raise ValueError(f"'{v}' is not the absolute path of a unix socket (e.g. /var/run/docker.sock)")
    return v


ImageRef = Annotated[str, Field(min_length=1)]
SocketPath = Annotated[str, AfterValidator(check_socket_path)]
DockerHost = Annotated[str, AfterValidator(check_docker_host)]
IpAddress = Annotated[str, AfterValidator(check_ip)]


class TlsConfig(_Model):
    mode: Literal["self-signed", "provided"] = "self-signed"
    certificate: Optional[str] = None
    private_key: Optional[SecretStr] = None
    ca_certificate: Optional[str] = None
    validity_days: int = Field(default=397, ge=1, le=3650)

    @field_validator("certificate", "ca_certificate")
    @classmethod
    def _pem_cert(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and "-----BEGIN CERTIFICATE-----" not in v:
            raise ValueError("must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
        return v

    @field_validator("private_key")
    @classmethod
    def _pem_key(cls, v: Optional[SecretStr]) -> Optional[SecretStr]:
        if v is not None and not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", v.get_secret_value()):
            raise ValueError("must be a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
        return v

    @model_validator(mode="after")
    def _mode_parts(self) -> "TlsConfig":
        if self.mode == "provided":
            missing = [k for k, v in (("certificate", self.certificate), ("privateKey", self.private_key)) if v is None]
            if missing:
                raise ValueError(f"mode 'provided' requires {' and '.join(missing)}")
        elif self.certificate or self.private_key or self.ca_certificate:
            raise ValueError("certificate, privateKey and caCertificate are only allowed with mode 'provided'")
        return self


class ServiceHostConfig(_Model):
    docker_host: DockerHost = "unix:///var/run/docker.sock"
    # The engine's socket on that host, for its dap-watchdog (default: a unix:// dockerHost's path, else
    # /var/run/docker.sock).
    docker_socket: Optional[SocketPath] = None
    address: Optional[IpAddress] = None
    publish_address: IpAddress = "0.0.0.0"
    https_port: int = Field(default=443, ge=1, le=65535)
    http_port: int = Field(default=80, ge=1, le=65535)

    @field_validator("docker_host")
    @classmethod
    def _local_or_ssh(cls, v: str) -> str:
        if v.startswith("tcp://"):
            raise ValueError(
                "the service host is reached over unix:// or ssh:// (the program runs `docker exec` there to "
                "provision GitLab and MinIO); tcp:// is only for runnerHosts, with TLS material"
            )
        return v

    @model_validator(mode="after")
    def _distinct_ports(self) -> "ServiceHostConfig":
        if self.https_port == self.http_port:
            raise ValueError("httpsPort and httpPort must differ")
        return self


class PortainerConfig(_Model):
    enabled: bool = False


class ImagesConfig(_Model):
    nginx: ImageRef = DEFAULT_IMAGES["nginx"]
    postgres: ImageRef = DEFAULT_IMAGES["postgres"]
    minio: ImageRef = DEFAULT_IMAGES["minio"]
    pgadmin: ImageRef = DEFAULT_IMAGES["pgadmin"]
    gitlab: ImageRef = DEFAULT_IMAGES["gitlab"]
    gitlab_runner: ImageRef = DEFAULT_IMAGES["gitlabRunner"]
    portainer: ImageRef = DEFAULT_IMAGES["portainer"]
    python_base: ImageRef = DEFAULT_IMAGES["pythonBase"]
    job_default: ImageRef = DEFAULT_IMAGES["jobDefault"]
    watchdog: ImageRef = DEFAULT_IMAGES["watchdog"]  # any image with python3 (the agent uses the standard library only)
    # Prebuilt images for the environments the program otherwise builds itself.
    mlflow: Optional[ImageRef] = None
    dev_python: Optional[ImageRef] = None
    dev_python_r: Optional[ImageRef] = None
    # The kaniko executor (debug variant) that environments/.gitlab-ci.yml builds environment images with;
    # set as the instance CI/CD variable DAP_IMAGE_KANIKO. No default: it is not part of the offline set.
    kaniko: Optional[ImageRef] = None

    def prebuilt(self, environment: str) -> Optional[str]:
        """The prebuilt image the stack names for a dev environment (None: the program builds it)."""
        return {"dev-python": self.dev_python, "dev-python-r": self.dev_python_r}[environment]

    @field_validator("*")
    @classmethod
    def _pinned(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else check_image(v)


class MemoryConfig(_Model):
    """Memory limits (MB) of the service containers; postgres-data's is postgresData.memoryMb."""

    proxy: int = Field(default=256, ge=64, le=1048576)
    gitlab: int = Field(default=6144, ge=2048, le=1048576)
    postgres_service: int = Field(default=1024, ge=256, le=1048576)
    minio: int = Field(default=1024, ge=256, le=1048576)
    mlflow: int = Field(default=2048, ge=256, le=1048576)
    pgadmin: int = Field(default=1024, ge=256, le=1048576)
    portainer: int = Field(default=512, ge=128, le=1048576)
    gitlab_runner: int = Field(default=512, ge=128, le=1048576)


class WatchdogConfig(_Model):
    """The dap-watchdog on every Docker host: starts the stack's containers again after `docker kill`."""

    enabled: bool = True
    interval_seconds: int = Field(default=3, ge=1, le=60)


class PostgresDataConfig(_Model):
    memory_mb: int = Field(default=2048, ge=256, le=1048576)
    max_connections: int = Field(default=50, ge=10, le=1000)


class GitlabConfig(_Model):
    runner_token: Optional[SecretStr] = None

    @field_validator("runner_token")
    @classmethod
    def _glrt(cls, v: Optional[SecretStr]) -> Optional[SecretStr]:
        if v is not None and not re.match(r"^glrt-[A-Za-z0-9_.-]{10,}$", v.get_secret_value()):
            raise ValueError("must be a runner authentication token (glrt-...), not a registration token")
        return v


class RunnerHostEntry(_Model):
    docker_host: DockerHost
    docker_socket: Optional[SocketPath] = None
    address: Optional[IpAddress] = None
    ssh_opts: list[str] = Field(default_factory=list)
    ca_material: Optional[str] = None
    cert_material: Optional[str] = None
    key_material: Optional[SecretStr] = None

    @model_validator(mode="after")
    def _tls_for_tcp(self) -> "RunnerHostEntry":
        tls = [self.ca_material, self.cert_material, self.key_material]
        if self.docker_host.startswith("tcp://") and not all(tls):
            raise ValueError("a tcp:// Docker host needs caMaterial, certMaterial and keyMaterial (TLS)")
        if not self.docker_host.startswith("tcp://") and any(tls):
            raise ValueError("caMaterial, certMaterial and keyMaterial are only for tcp:// Docker hosts")
        if self.ssh_opts and not self.docker_host.startswith("ssh://"):
            raise ValueError("sshOpts is only for ssh:// Docker hosts")
        return self


class RunnerConfig(_Model):
    concurrency: int = Field(default=4, ge=1, le=64)
    privileged: bool = False
    gpus: Optional[str] = None
    job_memory_mb: Optional[int] = Field(default=None, ge=64, le=1048576)
    job_cpus: Optional[float] = Field(default=None, gt=0, le=256)
    tags: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]] = Field(default_factory=list)
    run_untagged: bool = True
    # Environments whose images every runner host holds for jobs (`image: $DAP_IMAGE_DEV_PYTHON`)
    job_environments: list[str] = Field(default_factory=lambda: ["dev-python"])

    @field_validator("job_environments")
    @classmethod
    def _job_environments(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in ENVIRONMENTS:
                raise ValueError(f"'{name}' is not an environment under environments/: allowed {sorted(ENVIRONMENTS)}")
        if len(set(v)) != len(v):
            raise ValueError(f"names must be unique, repeated: {sorted({n for n in v if v.count(n) > 1})}")
        return v

    @field_validator("gpus")
    @classmethod
    def _gpus(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not re.match(r"^(all|[0-9]+|device=[0-9,]+)$", v):
            raise ValueError("must be 'all', a count, or 'device=0,1'")
        return v


class DevEnvironmentConfig(_Model):
    name: Annotated[str, Field(max_length=40)]
    host: Any = "service"
    ssh_public_keys: Optional[list[str]] = None
    image: str = "dev-python"
    jupyter: bool = True
    memory_mb: int = Field(default=4096, ge=256, le=1048576)
    cpus: Optional[float] = Field(default=None, gt=0, le=256)

    @field_validator("name")
    @classmethod
    def _label(cls, v: str) -> str:
        if not DNS_LABEL_RE.match(v):
            raise ValueError(f"'{v}' is not a DNS label (lowercase letters, digits and '-', 1-40 characters)")
        return v

    @field_validator("host")
    @classmethod
    def _host(cls, v: Any) -> Any:
        if v == "service" or (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            return v
        raise ValueError(f"{v!r} is not allowed: use 'service' or an index into runnerHosts (0, 1, ...)")

    @field_validator("ssh_public_keys")
    @classmethod
    def _keys(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        if v is None:
            return v
        if not v:
            raise ValueError("must list at least one key, or be left out to have a key pair generated")
        for key in v:
            if not re.match(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh.com) [A-Za-z0-9+/=]+( .*)?$", key):
                raise ValueError(f"'{key[:30]}...' is not an OpenSSH public key line")
        return v

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        if v not in ENVIRONMENTS:
            raise ValueError(f"'{v}' is not an environment under environments/: allowed {sorted(ENVIRONMENTS)}")
        return v


# The dev-environment images under environments/, each with the environment it is built FROM
# (None: images.pythonBase). dev-python-r adds R to everything dev-python has.
ENVIRONMENTS: dict[str, Optional[str]] = {"dev-python": None, "dev-python-r": "dev-python"}


class PlatformConfig(_Model):
    domain: str
    tls: TlsConfig = TlsConfig()
    service_host: ServiceHostConfig = ServiceHostConfig()
    portainer: PortainerConfig = PortainerConfig()
    images: ImagesConfig = ImagesConfig()
    postgres_data: PostgresDataConfig = PostgresDataConfig()
    memory_mb: MemoryConfig = MemoryConfig()
    gitlab: GitlabConfig = GitlabConfig()
    watchdog: WatchdogConfig = WatchdogConfig()
    rotation: int = Field(default=0, ge=0, le=1_000_000)
    runner_count: int = Field(default=1, ge=0, le=100)
    runner_hosts: list[RunnerHostEntry] = Field(default_factory=list)
    runner: RunnerConfig = RunnerConfig()
    dev_environments: list[DevEnvironmentConfig] = Field(default_factory=list)

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        if not DOMAIN_RE.match(v):
            raise ValueError(
                f"'{v}' is not a domain name: lowercase DNS labels separated by dots, e.g. dap.example.com"
            )
        return v

    @model_validator(mode="after")
    def _cross(self) -> "PlatformConfig":
        names = [d.name for d in self.dev_environments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"devEnvironments: names must be unique, repeated: {dupes}")
        for i, env in enumerate(self.dev_environments):
            if env.host != "service" and env.host >= len(self.runner_hosts):
                raise ValueError(
                    f"devEnvironments[{i}].host: index {env.host} is out of range, runnerHosts has "
                    f"{len(self.runner_hosts)} entr{'y' if len(self.runner_hosts) == 1 else 'ies'}"
                )
        ports: dict[int, str] = {}
        reserved = reserved_ports()
        for env in self.dev_environments:
            port = dev_ssh_port(env.name)
            if port in ports or port in reserved:
                other = f"'{ports[port]}'" if port in ports else "a platform port"
                raise ValueError(
                    f"devEnvironments[{self.dev_environments.index(env)}].name: '{env.name}' gets SSH port {port}, which {other} already uses; rename it"
                )
            ports[port] = env.name
        remote = [h for h in self.runner_hosts if h.docker_host != self.service_host.docker_host]
        if remote and self.service_host.address is None:
            raise ValueError(
                "serviceHost.address: required when runnerHosts name another Docker host: "
                "it is the IP at which those hosts reach the service host's proxy"
            )
        return self


DESCRIPTIONS: dict[str, str] = {
    "domain": "DNS domain; services are https://<service>.<domain> (required)",
    "tls": "Object: mode self-signed|provided; with provided: certificate, privateKey (secret), caCertificate; validityDays of issued certificates",
    "serviceHost": "Object: dockerHost (unix:// or ssh://), dockerSocket (the engine's socket path there, for its watchdog), address (IP other hosts reach the proxy at), publishAddress (IP the proxy publishes on), httpsPort, httpPort",
    "portainer": "Object: enabled (Portainer needs the Docker socket; off by default)",
    "images": "Object: pinned image per service (nginx, postgres, minio, pgadmin, gitlab, gitlabRunner, portainer, pythonBase, jobDefault, watchdog; kaniko (optional) for environments/.gitlab-ci.yml; mlflow, devPython and devPythonR name prebuilt images instead of building)",
    "memoryMb": "Object: memory limit in MB per service container (proxy, gitlab, postgresService, minio, mlflow, pgadmin, portainer, gitlabRunner)",
    "postgresData": "Object: memoryMb (tuning of postgres-data is derived from it), maxConnections",
    "gitlab": "Object: runnerToken (secret glrt-... token to use instead of creating runners through the API)",
    "rotation": "Counter: change it (e.g. 0 -> 1) and the next pulumi up generates every password, token, bucket key and TLS/SSH key anew (not the stack CA)",
    "watchdog": "Object: enabled (a dap-watchdog per Docker host starts the stack's containers again after docker kill), intervalSeconds (1-60)",
    "runnerCount": "Number of RunnerHosts (gitlab-runner containers), 0-100",
    "runnerHosts": "List of Docker hosts for runners, assigned round robin: dockerHost (unix://, tcp:// with caMaterial/certMaterial/keyMaterial, ssh://user@host), dockerSocket, address, sshOpts",
    "runner": "Object: concurrency, privileged, gpus, jobMemoryMb, jobCpus, tags, runUntagged, jobEnvironments (environments whose images every runner host holds for jobs, default [dev-python])",
    "devEnvironments": "List of dev environments: name, host (service or runnerHosts index), sshPublicKeys, image, jupyter, memoryMb, cpus",
}


def project_config_schema() -> dict[str, dict[str, Any]]:
    """The `config:` block of Pulumi.yaml, derived from the model (a test keeps the file in sync)."""
    defaults = PlatformConfig.model_construct().model_dump(by_alias=True, mode="json", exclude_none=True)
    schema: dict[str, dict[str, Any]] = {}
    for name, field in PlatformConfig.model_fields.items():
        key = to_camel(name)
        if key == "domain":
            entry: dict[str, Any] = {"type": "string"}
        elif field.annotation is int:
            entry = {"type": "integer"}
        elif key in ("runnerHosts", "devEnvironments"):
            entry = {"type": "array", "items": {"type": "object"}}
        else:
            entry = {"type": "object"}
        if key in defaults:
            entry["default"] = defaults[key]
        entry["description"] = DESCRIPTIONS[key]
        schema[f"{key}"] = entry
    return schema


# Keys whose raw value is a plain string (everything else is JSON: numbers, booleans, objects, lists).
_STRING_KEYS = {"domain"}
TOP_LEVEL_KEYS = {to_camel(name) for name in PlatformConfig.model_fields}


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def load_config(raw: dict[str, Any]) -> PlatformConfig:
    """Validate raw stack config (keys without the project prefix) into a PlatformConfig.

    Values may be Python objects or the strings Pulumi stores (JSON for structured values).
    Raises ConfigError naming every offending key.
    """
    problems: list[tuple[str, str]] = []
    data: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in TOP_LEVEL_KEYS:
            problems.append((key, f"unknown key; allowed keys are {sorted(TOP_LEVEL_KEYS)}"))
            continue
        if isinstance(value, str) and key not in _STRING_KEYS:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # let the model report the type error
        data[key] = value
    if "domain" not in data and "domain" not in {p[0] for p in problems}:
        problems.append(("domain", "required: the DNS domain under which every service is named"))
    if not problems:
        try:
            return PlatformConfig.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                key = _key_path(tuple(to_camel(p) if isinstance(p, str) else p for p in err["loc"]))
                msg = err["msg"].removeprefix("Value error, ")
                named = re.match(r"^([A-Za-z][\w.\[\]]*): (.*)$", msg, re.S)
                if key == "(root)" and named:  # cross-key checks name their key in the message
                    key, msg = named.group(1), named.group(2)
                if err["type"] == "extra_forbidden":
                    parent = key.rsplit(".", 1)[0] if "." in key else "(root)"
                    msg = f"unknown key inside {parent}"
                problems.append((key, msg))
    raise ConfigError(problems)


def read_stack_config(project: str = PROJECT) -> dict[str, Any]:
    """Collect this project's raw stack config values from the Pulumi runtime."""
    from pulumi.runtime import config as runtime_config

    prefix = f"{project}:"
    raw: dict[str, Any] = {}
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    for full_key, value in merged.items():
        if full_key.startswith(prefix):
            raw[full_key[len(prefix):]] = value
    return raw
