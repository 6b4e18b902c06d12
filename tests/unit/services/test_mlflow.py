"""services/mlflow.py: the tracking server's database URI (no password), its command, credentials in files,
artifacts through the object store, basic auth at the proxy."""

import configparser
import re
from urllib.parse import parse_qs, urlsplit

import pulumi
import pulumi_docker as docker

from tests.conftest import SECRET_MARK, leaks
from tests.unit.helpers import STACK_CA_PEM, env, host_context, is_secret, raw_upload, upload

from dap_components.render.nginx import HTPASSWD_DIR
from dap_components.services import mlflow
from dap_components.services.object_store import BucketCredentials


def test_backend_store_uri_has_no_password_and_verifies_the_server():
    uri = mlflow.backend_store_uri("postgres-service", "mlflow", "mlflow")
    parts = urlsplit(uri)
    assert parts.scheme == "postgresql+psycopg"
    assert (parts.username, parts.password, parts.hostname, parts.port, parts.path) == ("mlflow", None, "postgres-service", 5432, "/mlflow")
    assert parse_qs(parts.query) == {"sslmode": ["verify-full"], "sslrootcert": [mlflow.CA_FILE]}


def test_server_command():
    cmd = mlflow.server_command("dap.example.test", "https://mlflow.dap.example.test", "postgresql+psycopg://u@h:5432/d", "artifacts")
    assert cmd[:2] == ["mlflow", "server"]
    value = lambda flag: cmd[cmd.index(flag) + 1]  # noqa: E731
    assert "--serve-artifacts" in cmd  # artifacts go through the server, clients never hold S3 keys
    assert value("--host") == "0.0.0.0" and value("--port") == str(mlflow.PORT)
    assert value("--workers") == str(mlflow.WORKERS) == "2"
    assert value("--backend-store-uri") == "postgresql+psycopg://u@h:5432/d"
    assert value("--artifacts-destination") == "s3://artifacts"
    allowed = value("--allowed-hosts").split(",")
    assert allowed == ["mlflow.dap.example.test", "mlflow.dap.example.test:*", "mlflow:5000", "localhost:*", "127.0.0.1:*"]
    assert "*" not in allowed
    assert value("--cors-allowed-origins") == "https://mlflow.dap.example.test"  # no wildcard either


def declared(program, **config):
    def fn():
        ctx = host_context(name="svc", prefix="dap-t", **config)
        db_pw = ctx.password("postgres-service", "mlflow-password")
        db_ready = docker.Network("db-ready", opts=ctx.opts)
        bucket_ready = docker.Network("bucket-ready", opts=ctx.opts)
        bucket = BucketCredentials("artifacts", pulumi.Output.secret("AKID"), pulumi.Output.secret(f"{SECRET_MARK}-s3"), bucket_ready)
        r = mlflow.declare(ctx, db_pw, db_ready, "https://s3.dap.example.test", bucket)
        return {"result": r, "credentials": pulumi.Output.from_input(r.credentials),
                "htpasswd": pulumi.Output.from_input(r.htpasswd), "db_pw": db_pw.result}

    return program(fn)


def test_waits_for_the_database_role_and_the_bucket(program):
    run = declared(program)
    c = run.named("svc-mlflow")
    assert {run.named("db-ready").urn, run.named("bucket-ready").urn} <= set(c.depends_on)


def test_credentials_are_files_never_environment(program):
    run = declared(program)
    c = run.named("svc-mlflow")
    assert not any(SECRET_MARK in e for e in c.inputs["envs"])
    pgpass = raw_upload(c, "/run/secrets/dap/pgpass")
    assert pgpass["permissions"] == "0400" and is_secret(pgpass["content"])
    assert upload(c, "/run/secrets/dap/pgpass")["content"] == f"postgres-service:5432:mlflow:mlflow:{run.outputs['db_pw'][0]}\n"
    aws = raw_upload(c, "/run/secrets/dap/aws_credentials")
    assert aws["permissions"] == "0400" and is_secret(aws["content"])
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(upload(c, "/run/secrets/dap/aws_credentials")["content"])
    assert dict(ini["default"]) == {"aws_access_key_id": "AKID", "aws_secret_access_key": f"{SECRET_MARK}-s3"}
    assert env(c, "DAP_INSTALL_PGPASSFILE") == "/run/secrets/dap/pgpass"
    assert env(c, "DAP_INSTALL_AWS_SHARED_CREDENTIALS_FILE") == "/run/secrets/dap/aws_credentials"
    assert leaks(c.raw) == []


def test_object_store_endpoint_and_bucket_come_from_the_store(program):
    c = declared(program).named("svc-mlflow")
    assert env(c, "MLFLOW_S3_ENDPOINT_URL") == "https://s3.dap.example.test"
    cmd = c.inputs["command"]
    assert cmd[cmd.index("--artifacts-destination") + 1] == "s3://artifacts"
    assert env(c, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION") == "false"


def test_two_cas_one_for_postgres_one_for_the_proxy(program):
    run = declared(program, tls={"mode": "provided", "certificate": "-----BEGIN CERTIFICATE-----\nUSER\n-----END CERTIFICATE-----\n",
                                 "privateKey": f"-----BEGIN PRIVATE KEY-----\n{SECRET_MARK}\n-----END PRIVATE KEY-----\n"})
    c = run.named("svc-mlflow")
    assert upload(c, mlflow.PUBLIC_CA_FILE)["content"] == "-----BEGIN CERTIFICATE-----\nUSER\n-----END CERTIFICATE-----\n"
    # PostgreSQL's certificates still come from the stack CA
    assert upload(c, mlflow.CA_FILE)["content"] == STACK_CA_PEM
    assert env(c, "AWS_CA_BUNDLE") == mlflow.PUBLIC_CA_FILE  # S3 is reached through the proxy


def test_basic_auth_at_the_proxy(program):
    run = declared(program)
    r = run.objects["result"]
    (route,) = r.http_routes
    assert route.hostname == "mlflow.dap.example.test" and route.upstream == "mlflow:5000"
    assert route.basic_auth_file == f"{HTPASSWD_DIR}/{mlflow.HTPASSWD_FILE}"
    assert (route.buffering, route.max_body_size, route.timeout_seconds) == (False, "0", 600)
    creds, secret = run.outputs["credentials"]
    assert secret and creds["mlflow-username"] == mlflow.USERNAME
    htpasswd, secret = run.outputs["htpasswd"]
    assert secret and list(htpasswd) == [mlflow.HTPASSWD_FILE]
    user, hashed = htpasswd[mlflow.HTPASSWD_FILE].rstrip("\n").split(":", 1)
    assert user == mlflow.USERNAME and hashed.startswith("$2a$")
    assert creds["mlflow-password"] not in htpasswd[mlflow.HTPASSWD_FILE]  # only the hash reaches the proxy
    assert r.urls == {"mlflow": "https://mlflow.dap.example.test"}


def test_image_built_from_its_environment_unless_prebuilt(program):
    built = declared(program).named("svc-mlflow-image")
    assert built.inputs["name"].startswith("dap-local/mlflow:") and built.inputs["build"]["buildArgs"] == {"BASE_IMAGE": "python:3.12.12-slim-bookworm"}
    prebuilt = declared(program, images={"mlflow": "registry.example.test/mlflow:3.4.0"}).named("svc-mlflow-image")
    assert prebuilt.inputs["name"] == "registry.example.test/mlflow:3.4.0" and "build" not in prebuilt.inputs


def test_mlflow_wiring(deploy):
    d = deploy(runnerCount=0)
    mlflow = d.containers()["dap-dev-mlflow"]
    cmd = mlflow.inputs["command"]
    uri = cmd[cmd.index("--backend-store-uri") + 1]
    assert uri.startswith("postgresql+psycopg://mlflow@postgres-service:5432/mlflow?")
    assert "sslmode=verify-full" in uri and "sslrootcert=/etc/dap/ca.crt" in uri
    assert "--serve-artifacts" in cmd and cmd[cmd.index("--artifacts-destination") + 1] == "s3://mlflow"
    assert cmd[cmd.index("--workers") + 1] == "2"  # 4 uvicorn workers exceed the 2 GB limit (measured: OOM)
    allowed = cmd[cmd.index("--allowed-hosts") + 1].split(",")
    assert "mlflow.dap.example.test" in allowed and "mlflow:5000" in allowed
    # the origin of the UI's own requests: the public URL, exactly (port included when not 443)
    assert cmd[cmd.index("--cors-allowed-origins") + 1] == "https://mlflow.dap.example.test"
    odd = deploy(runnerCount=0, serviceHost={"httpsPort": 8443}).containers()["dap-dev-mlflow"].inputs["command"]
    assert odd[odd.index("--cors-allowed-origins") + 1] == "https://mlflow.dap.example.test:8443"
    # the public S3 name, reached through the proxy's alias on the storage network, so presigned URLs
    # that MLflow hands to clients point where clients can go
    assert env(mlflow, "MLFLOW_S3_ENDPOINT_URL") == "https://s3.dap.example.test"
    assert env(mlflow, "AWS_CA_BUNDLE") == "/etc/dap/public-ca.crt"
    storage = [n for n in d.containers()["dap-dev-proxy"].inputs["networksAdvanced"] if n["name"] == "dap-dev-storage"][0]
    assert storage["aliases"] == ["s3.dap.example.test"]
    # credentials come from files, not the environment
    assert not any(re.search(r"PASSWORD|SECRET|AWS_ACCESS", e.split("=")[0]) for e in mlflow.inputs["envs"])
    pgpass = upload(mlflow, "/run/secrets/dap/pgpass")
    assert pgpass["permissions"] == "0400"
    assert pgpass["content"].startswith("postgres-service:5432:mlflow:mlflow:")
    aws = upload(mlflow, "/run/secrets/dap/aws_credentials")["content"]
    assert "aws_access_key_id" in aws and "aws_secret_access_key" in aws
    # the same CA that signed postgres-service's certificate
    ca = upload(mlflow, "/etc/dap/ca.crt")["content"]
    pg = d.containers()["dap-dev-postgres-service"]
    assert upload(pg, "/run/secrets/dap/server.crt")["content"].endswith(ca)
    # the bucket and its key exist before MLflow starts
    bucket_step = d.named("service-minio-mlflow-bucket")
    assert bucket_step.urn in mlflow.depends_on
