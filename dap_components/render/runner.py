"""gitlab-runner's config.toml (docker executor), written with a TOML library."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import tomlkit

CONFIG_DIR = "/etc/gitlab-runner"
CA_DIR = f"{CONFIG_DIR}/certs"  # a named volume shared with job containers
CA_FILE = f"{CA_DIR}/ca.crt"
JOB_CA_DIR = "/etc/dap/ca"


@dataclass(frozen=True)
class RunnerSettings:
    name: str
    url: str
    token: str
    concurrency: int
    default_image: str
    mlflow_url: str  # MLFLOW_TRACKING_URI of every job
    ca_volume: str  # Docker volume holding ca.crt, mounted read-only into jobs
    cache_volume: str
    privileged: bool = False
    gpus: Optional[str] = None
    job_memory_mb: Optional[int] = None
    job_cpus: Optional[float] = None
    network_mode: Optional[str] = None  # jobs join the platform network on the service host
    extra_hosts: Sequence[str] = field(default_factory=tuple)  # "name:ip", for runners on other hosts


def render_config_toml(s: RunnerSettings) -> str:
    doc = tomlkit.document()
    doc.add(tomlkit.comment("Rendered by the data-analysis-platform Pulumi program. Do not edit."))
    doc["concurrent"] = s.concurrency
    doc["check_interval"] = 3
    doc["shutdown_timeout"] = 30
    doc["log_level"] = "info"

    docker = tomlkit.table()
    docker["image"] = s.default_image
    docker["privileged"] = s.privileged
    docker["disable_entrypoint_overwrite"] = False
    docker["oom_kill_disable"] = False
    docker["disable_cache"] = False
    docker["shm_size"] = 268435456
    docker["pull_policy"] = ["if-not-present"]
    docker["volumes"] = [f"{s.cache_volume}:/cache", f"{s.ca_volume}:{JOB_CA_DIR}:ro"]
    if s.job_memory_mb is not None:
        docker["memory"] = f"{s.job_memory_mb}m"
    if s.job_cpus is not None:
        docker["cpus"] = str(s.job_cpus)
    if s.gpus is not None:
        docker["gpus"] = s.gpus
    if s.network_mode:
        docker["network_mode"] = s.network_mode
    if s.extra_hosts:
        docker["extra_hosts"] = list(s.extra_hosts)

    runner = tomlkit.table()
    runner["name"] = s.name
    runner["url"] = s.url
    runner["token"] = s.token
    runner["executor"] = "docker"
    runner["tls-ca-file"] = CA_FILE
    runner["environment"] = [
        f"MLFLOW_TRACKING_URI={s.mlflow_url}",
        f"DAP_CA_FILE={JOB_CA_DIR}/ca.crt",
        f"MLFLOW_TRACKING_SERVER_CERT_PATH={JOB_CA_DIR}/ca.crt",
        f"PGSSLROOTCERT={JOB_CA_DIR}/ca.crt",
    ]
    runner["output_limit"] = 16384
    runner["docker"] = docker
    runners = tomlkit.aot()
    runners.append(runner)
    doc["runners"] = runners
    return tomlkit.dumps(doc)
