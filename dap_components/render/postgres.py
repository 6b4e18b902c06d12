"""postgresql.conf, pg_hba.conf and the start/init scripts for the PostgreSQL containers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from . import SECRETS_DIR

# Where the start script installs TLS material and secrets, owned by postgres (uid 999) as
# PostgreSQL requires for its key; the originals are uploaded root-only under /run/secrets/dap.
UPLOAD_DIR = SECRETS_DIR
PRIVATE_DIR = "/var/lib/postgresql/dap"
CONFIG_DIR = "/etc/dap"


@dataclass(frozen=True)
class PostgresTuning:
    max_connections: int
    shared_buffers_mb: int
    effective_cache_size_mb: int
    work_mem_mb: int
    maintenance_work_mem_mb: int
    max_wal_size_mb: int
    min_wal_size_mb: int
    checkpoint_timeout_min: int
    checkpoint_completion_target: float
    wal_buffers_mb: int
    random_page_cost: float
    effective_io_concurrency: int
    default_statistics_target: int
    max_parallel_workers_per_gather: int
    max_parallel_maintenance_workers: int
    max_worker_processes: int


def service_tuning() -> PostgresTuning:
    """postgres-service: small OLTP metadata (MLflow); near initdb defaults with faster storage costs."""
    return PostgresTuning(
        max_connections=100,
        shared_buffers_mb=128,
        effective_cache_size_mb=512,
        work_mem_mb=4,
        maintenance_work_mem_mb=64,
        max_wal_size_mb=1024,
        min_wal_size_mb=80,
        checkpoint_timeout_min=5,
        checkpoint_completion_target=0.9,
        wal_buffers_mb=4,
        random_page_cost=1.1,
        effective_io_concurrency=200,
        default_statistics_target=100,
        max_parallel_workers_per_gather=2,
        max_parallel_maintenance_workers=2,
        max_worker_processes=8,
    )


def data_tuning(memory_mb: int, max_connections: int = 50) -> PostgresTuning:
    """postgres-data: bulk loads and analytical reads, derived from the memory given to the container.

    shared_buffers 25 % and effective_cache_size 75 % of memory; work_mem so that every connection can
    run a few sorts or hashes at once within what shared_buffers leaves; maintenance_work_mem 1/8 for
    index builds after loads (capped at 2 GiB, the useful maximum); a large WAL budget and long, spread
    checkpoints so bulk COPY does not trigger checkpoint storms; parallel workers for scans.
    """
    shared = max(32, memory_mb // 4)
    work_mem = max(4, (memory_mb - shared) // (max_connections * 3))
    max_wal = min(16384, max(2048, memory_mb * 2))
    parallel = 4 if memory_mb >= 4096 else 2
    return PostgresTuning(
        max_connections=max_connections,
        shared_buffers_mb=shared,
        effective_cache_size_mb=max(64, memory_mb * 3 // 4),
        work_mem_mb=work_mem,
        maintenance_work_mem_mb=min(2048, max(64, memory_mb // 8)),
        max_wal_size_mb=max_wal,
        min_wal_size_mb=max_wal // 4,
        checkpoint_timeout_min=15,
        checkpoint_completion_target=0.9,
        wal_buffers_mb=16,
        random_page_cost=1.1,
        effective_io_concurrency=200,
        default_statistics_target=500,
        max_parallel_workers_per_gather=parallel,
        max_parallel_maintenance_workers=parallel,
        max_worker_processes=max(8, parallel * 2),
    )


def shm_size_mb(tuning: PostgresTuning) -> int:
    """/dev/shm for dynamic shared memory (parallel query): at least 256 MB."""
    return max(256, min(2048, tuning.shared_buffers_mb))


def render_postgresql_conf(tuning: PostgresTuning) -> str:
    settings: list[tuple[str, object]] = [
        ("listen_addresses", "'*'"),
        ("port", 5432),
        ("max_connections", tuning.max_connections),
        ("hba_file", f"'{CONFIG_DIR}/pg_hba.conf'"),
        ("password_encryption", "'scram-sha-256'"),
        ("ssl", "on"),
        ("ssl_cert_file", f"'{PRIVATE_DIR}/server.crt'"),
        ("ssl_key_file", f"'{PRIVATE_DIR}/server.key'"),
        ("ssl_min_protocol_version", "'TLSv1.2'"),
        ("shared_buffers", f"'{tuning.shared_buffers_mb}MB'"),
        ("effective_cache_size", f"'{tuning.effective_cache_size_mb}MB'"),
        ("work_mem", f"'{tuning.work_mem_mb}MB'"),
        ("maintenance_work_mem", f"'{tuning.maintenance_work_mem_mb}MB'"),
        ("max_wal_size", f"'{tuning.max_wal_size_mb}MB'"),
        ("min_wal_size", f"'{tuning.min_wal_size_mb}MB'"),
        ("checkpoint_timeout", f"'{tuning.checkpoint_timeout_min}min'"),
        ("checkpoint_completion_target", tuning.checkpoint_completion_target),
        ("wal_buffers", f"'{tuning.wal_buffers_mb}MB'"),
        ("wal_compression", "on"),
        ("random_page_cost", tuning.random_page_cost),
        ("effective_io_concurrency", tuning.effective_io_concurrency),
        ("default_statistics_target", tuning.default_statistics_target),
        ("max_worker_processes", tuning.max_worker_processes),
        ("max_parallel_workers", tuning.max_worker_processes),
        ("max_parallel_workers_per_gather", tuning.max_parallel_workers_per_gather),
        ("max_parallel_maintenance_workers", tuning.max_parallel_maintenance_workers),
        ("dynamic_shared_memory_type", "posix"),
        ("timezone", "'UTC'"),
        ("log_timezone", "'UTC'"),
        ("log_min_duration_statement", "'5s'"),
        ("log_checkpoints", "on"),
        ("datestyle", "'iso, mdy'"),
        ("lc_messages", "'C.UTF-8'"),
        ("default_text_search_config", "'pg_catalog.english'"),
    ]
    body = "\n".join(f"{key} = {value}" for key, value in settings)
    return f"# Rendered by the data-analysis-platform Pulumi program.\n{body}\n"


def render_pg_hba() -> str:
    """Inside the container only the postgres OS user (peer); every network connection TLS + SCRAM."""
    return (
        "# Rendered by the data-analysis-platform Pulumi program.\n"
        "# TYPE   DATABASE  USER      ADDRESS     METHOD\n"
        "local    all       postgres              peer\n"
        "local    all       all                   scram-sha-256\n"
        "hostssl  all       all       0.0.0.0/0   scram-sha-256\n"
        "hostssl  all       all       ::/0        scram-sha-256\n"
        "host     all       all       0.0.0.0/0   reject\n"
        "host     all       all       ::/0        reject\n"
    )


def render_start_script(private_files: Sequence[str]) -> str:
    """Entrypoint wrapper: install uploaded root-only files as postgres-owned 0600, then run the image's entrypoint."""
    installs = "\n".join(
        f"install -o postgres -g postgres -m 0600 {UPLOAD_DIR}/{name} {PRIVATE_DIR}/{name}" for name in private_files
    )
    return (
        "#!/bin/sh\n"
        "# Rendered by the data-analysis-platform Pulumi program.\n"
        "set -eu\n"
        f"install -d -o postgres -g postgres -m 0700 {PRIVATE_DIR}\n"
        f"{installs}\n"
        'exec docker-entrypoint.sh "$@"\n'
    )


def render_reconcile_script(databases: Sequence[str]) -> str:
    """Runs as the postgres OS user (peer auth over the local socket) after every start of a new container.

    It makes the roles match the password files this deployment uploaded: the superuser's, and one owner
    role and database per name in ``databases``, created when missing. A data directory kept from an
    earlier stack (destroy + up, restore, rotation) therefore accepts the credentials the stack outputs
    now. Passwords are read by psql from the files, never put on a command line.
    """
    blocks = [f"\\set pw `cat {PRIVATE_DIR}/postgres_password`\nALTER ROLE postgres PASSWORD :'pw';\n"]
    for db in sorted(databases):
        if not db.isidentifier() or db.lower() != db:
            raise ValueError(f"database name must be a lowercase identifier: {db!r}")
        blocks.append(
            f"SELECT 'CREATE ROLE {db}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{db}')\\gexec\n"
            f"\\set pw `cat {PRIVATE_DIR}/{db}_password`\n"
            f"ALTER ROLE {db} LOGIN PASSWORD :'pw';\n"
            f"SELECT 'CREATE DATABASE {db} OWNER {db}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{db}')\\gexec\n"
            f"REVOKE ALL ON DATABASE {db} FROM PUBLIC;\n"
        )
    sql = "".join(blocks)
    return (
        "set -eu\n"
        "# Rendered by the data-analysis-platform Pulumi program.\n"
        "psql -X -q -v ON_ERROR_STOP=1 --dbname postgres <<'SQL'\n"
        f"{sql}"
        "SQL\n"
        "echo credentials reconciled\n"
    )
