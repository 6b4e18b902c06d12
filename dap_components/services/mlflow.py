"""MLflow tracking server: PostgreSQL backend over verified TLS, artifacts proxied to the object store,
HTTP basic auth at the platform proxy."""

from __future__ import annotations

import pulumi
import pulumi_random as random

from ..containers import ContainerSpec, NetworkAttachment, Upload, environment_image, make_container
from ..render.credentials import render_aws_credentials, render_pgpass
from ..render.nginx import HTPASSWD_DIR, render_htpasswd
from ..routes import HttpRoute
from .base import SECRETS_DIR, HostContext, ServiceResult
from .object_store import BucketCredentials

PORT = 5000
ALIAS = "mlflow"
USERNAME = "mlflow"
BUCKET = "mlflow"
CA_FILE = "/etc/dap/ca.crt"  # signs the PostgreSQL certificates
PUBLIC_CA_FILE = "/etc/dap/public-ca.crt"  # signs the proxy's (differs in tls.mode provided)
HTPASSWD_FILE = "mlflow"
WORKERS = 2


def backend_store_uri(db_host: str, database: str, user: str) -> str:
    """SQLAlchemy URI without a password: libpq reads it from PGPASSFILE."""
    return (
        f"postgresql+psycopg://{user}@{db_host}:5432/{database}"
        f"?sslmode=verify-full&sslrootcert={CA_FILE}"
    )


def server_command(domain: str, public_url: str, backend_uri: str, bucket: str) -> list[str]:
    return [
        "mlflow",
        "server",
        "--host", "0.0.0.0",
        "--port", str(PORT),
        # each uvicorn worker holds ~450 MB once MLflow is imported; 4 (the default) exceed 2 GB
        "--workers", str(WORKERS),
        "--backend-store-uri", backend_uri,
        "--serve-artifacts",
        "--artifacts-destination", f"s3://{bucket}",
        "--allowed-hosts", f"mlflow.{domain},mlflow.{domain}:*,{ALIAS}:{PORT},localhost:*,127.0.0.1:*",
        # The UI's own POSTs carry `Origin: <public URL>`; MLflow 3 refuses state-changing requests from an origin
        # it is not told about (the browser smoke test found the runs list failing without this).
        "--cors-allowed-origins", public_url,
    ]


def declare(
    ctx: HostContext,
    db_password: random.RandomPassword,
    database_ready: pulumi.Resource,
    store_endpoint: str,
    bucket: BucketCredentials,
) -> ServiceResult:
    """``database_ready``: the step after which postgres-service accepts ``db_password`` for role mlflow."""
    basic_auth = ctx.password("mlflow", "basic-auth-password")
    image = environment_image(
        f"{ctx.name}-mlflow-image", "mlflow", ctx.cfg.images.python_base, ctx.cfg.images.mlflow, ctx.opts
    )
    pgpass = db_password.result.apply(lambda pw: render_pgpass("postgres-service", 5432, "mlflow", "mlflow", pw))
    aws = pulumi.Output.all(bucket.access_key_id, bucket.secret_access_key).apply(
        lambda kv: render_aws_credentials(kv[0], kv[1])
    )
    container = make_container(
        f"{ctx.name}-mlflow",
        ctx.container_name("mlflow"),
        ContainerSpec(
            role="mlflow",
            image=image.image_id,
            command=server_command(ctx.domain, ctx.public_url("mlflow"), backend_store_uri("postgres-service", "mlflow", "mlflow"), bucket.bucket),
            envs=[
                f"MLFLOW_S3_ENDPOINT_URL={store_endpoint}",
                f"AWS_CA_BUNDLE={PUBLIC_CA_FILE}",
                f"DAP_INSTALL_PGPASSFILE={SECRETS_DIR}/pgpass",
                f"DAP_INSTALL_AWS_SHARED_CREDENTIALS_FILE={SECRETS_DIR}/aws_credentials",
                "AWS_DEFAULT_REGION=us-east-1",
                # MLflow 3's server-side job runner (three huey consumer processes, for GenAI prompt optimisation
                # and trace roll-ups) is off: tracking, models and artifacts do not use it, and it doubles the
                # boot CPU and adds ~700 MB on a 2 GB limit (measured).
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false",
            ],
            uploads=[
                Upload(CA_FILE, ctx.pki.ca_pem),
                Upload(PUBLIC_CA_FILE, ctx.pki.public_ca_pem),
                Upload(f"{SECRETS_DIR}/pgpass", pgpass, mode="0400"),
                Upload(f"{SECRETS_DIR}/aws_credentials", aws, mode="0400"),
            ],
            networks=[
                NetworkAttachment(ctx.network_name("web"), [ALIAS]),
                NetworkAttachment(ctx.network_name("db")),
                NetworkAttachment(ctx.network_name("storage")),
            ],
            healthcheck=[
                "CMD", "python3", "-c",
                f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/health', timeout=5)",
            ],
            memory_mb=ctx.cfg.memory_mb.mlflow,
            capabilities=["CHOWN", "SETGID", "SETUID"],  # the entrypoint installs files for mlflow, then drops to it
        ),
        ctx.after(database_ready, bucket.ready),
        docker_host=ctx.docker_host,
    )
    htpasswd = basic_auth.bcrypt_hash.apply(lambda h: render_htpasswd(USERNAME, h))
    return ServiceResult(
        container=container,
        ready=container.ready,
        http_routes=[
            HttpRoute(
                ctx.fqdn("mlflow"), ALIAS, PORT, max_body_size="0", buffering=False,
                basic_auth_file=f"{HTPASSWD_DIR}/{HTPASSWD_FILE}", timeout_seconds=600,
            )
        ],
        urls={"mlflow": ctx.public_url("mlflow")},
        credentials={"mlflow-username": USERNAME, "mlflow-password": basic_auth.result},
        htpasswd={HTPASSWD_FILE: htpasswd},
    )
