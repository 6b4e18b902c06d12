"""postgres-service (MLflow's backend) and postgres-data (users' tabular data): TLS, SCRAM, tuned."""

from __future__ import annotations

from typing import Mapping

import pulumi_random as random

from ..containers import ContainerSpec, NetworkAttachment, Upload, make_container, pinned_image
from ..render import postgres as pg
from ..routes import StreamRoute
from .base import SECRETS_DIR, HostContext, ServiceResult

PORTS = {"postgres-service": 54321, "postgres-data": 54322}


def declare(
    ctx: HostContext,
    role: str,
    tuning: pg.PostgresTuning,
    databases: Mapping[str, random.RandomPassword],
    memory_mb: int | None = None,
) -> ServiceResult:
    """One PostgreSQL server; ``databases`` maps a database (and its owner role) to the role's password."""
    superuser = ctx.password(role, "superuser-password")
    bundle = ctx.pki.issue(f"{ctx.name}-{role}", [ctx.fqdn(role), role, ctx.container_name(role)], ctx.opts)
    private = ["server.crt", "server.key", "postgres_password"] + [f"{db}_password" for db in sorted(databases)]
    uploads = [
        Upload(f"{pg.CONFIG_DIR}/postgresql.conf", pg.render_postgresql_conf(tuning)),
        Upload(f"{pg.CONFIG_DIR}/pg_hba.conf", pg.render_pg_hba()),
        Upload(f"{pg.CONFIG_DIR}/start.sh", pg.render_start_script(private), mode="0555"),
        Upload(f"{SECRETS_DIR}/server.crt", bundle.fullchain_pem, mode="0400"),
        Upload(f"{SECRETS_DIR}/server.key", bundle.key_pem, mode="0400"),
        Upload(f"{SECRETS_DIR}/postgres_password", superuser.result, mode="0400"),
    ]
    for db, pw in sorted(databases.items()):
        uploads.append(Upload(f"{SECRETS_DIR}/{db}_password", pw.result, mode="0400"))
    data = ctx.volume(role, "data")
    image = pinned_image(f"{ctx.name}-{role}-image", ctx.cfg.images.postgres, ctx.opts)
    container = make_container(
        f"{ctx.name}-{role}",
        ctx.container_name(role),
        ContainerSpec(
            role=role,
            image=image.image_id,
            entrypoint=[f"{pg.CONFIG_DIR}/start.sh"],
            command=["postgres", "-c", f"config_file={pg.CONFIG_DIR}/postgresql.conf"],
            envs=[f"POSTGRES_PASSWORD_FILE={pg.PRIVATE_DIR}/postgres_password", "POSTGRES_USER=postgres"],
            uploads=uploads,
            volumes=[(data.name, "/var/lib/postgresql/data")],
            networks=[NetworkAttachment(ctx.network_name("db"), [role])],
            # over TCP: the image's first-boot server listens on the socket only, and is not the one to use
            healthcheck=["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"],
            shm_size_mb=pg.shm_size_mb(tuning),
            # root entrypoint: chown/chmod PGDATA and the TLS files, then drop to postgres
            capabilities=["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"],
            memory_mb=memory_mb,
        ),
        ctx.opts,
        docker_host=ctx.docker_host,
    )
    # Every new container (first boot, destroy + up, a changed password): roles and databases made to
    # match the uploaded password files, whatever the retained data directory held before.
    reconcile = ctx.step_in(
        container, f"{ctx.name}-{role}-credentials", pg.render_reconcile_script(sorted(databases)), user="postgres"
    )
    result = ServiceResult(
        container=container,
        ready=reconcile,
        stream_routes=[StreamRoute(role, PORTS[role], role, 5432, hostname=ctx.fqdn(role))],
        urls={role: f"postgresql://{ctx.fqdn(role)}:{PORTS[role]}/postgres?sslmode=verify-full"},
        credentials={f"{role}-superuser": superuser.result},
    )
    return result
