"""services/postgres.py: each PostgreSQL server with TLS from the stack CA, SCRAM only, its password files, the
step that reconciles roles on every new container, and its TCP stream on the proxy."""

import re

import pulumi

from tests.conftest import leaks
from tests.unit.helpers import env, host_context, is_secret, raw_upload, upload

from dap_components.render import postgres as pg
from dap_components.render.postgres import data_tuning, service_tuning
from dap_components.routes import StreamRoute
from dap_components.services import postgres


def declared(program, role="postgres-service", databases=("mlflow",), memory_mb=1024):
    def fn():
        ctx = host_context(name="svc", prefix="dap-t")
        dbs = {db: ctx.password(role, f"{db}-password") for db in databases}
        tuning = service_tuning() if role == "postgres-service" else data_tuning(2048, 50)
        r = postgres.declare(ctx, role, tuning, dbs, memory_mb=memory_mb)
        return {"result": r, "urls": pulumi.Output.from_input(r.urls), "credentials": pulumi.Output.from_input(r.credentials)}

    return program(fn)


def test_a_server_with_its_stream_url_and_superuser(program):
    run = declared(program)
    r = run.objects["result"]
    assert r.stream_routes == [StreamRoute("postgres-service", 54321, "postgres-service", 5432, hostname="postgres-service.dap.example.test")]
    assert r.http_routes == [] and r.htpasswd == {}
    assert run.outputs["urls"] == ({"postgres-service": "postgresql://postgres-service.dap.example.test:54321/postgres?sslmode=verify-full"}, False)
    creds, secret = run.outputs["credentials"]
    assert list(creds) == ["postgres-service-superuser"] and secret
    # dependents wait for the credentials step, not merely for the container
    assert r.ready is not r.container.ready and r.ready is not None


def test_each_role_has_its_own_published_port():
    assert postgres.PORTS == {"postgres-service": 54321, "postgres-data": 54322}


def test_container_files_and_their_modes(program):
    run = declared(program)
    c = run.named("svc-postgres-service")
    modes = {u["file"]: u["permissions"] for u in c.inputs["uploads"]}
    assert modes == {
        f"{pg.CONFIG_DIR}/postgresql.conf": "0444",
        f"{pg.CONFIG_DIR}/pg_hba.conf": "0444",
        f"{pg.CONFIG_DIR}/start.sh": "0555",
        "/run/secrets/dap/server.crt": "0400",
        "/run/secrets/dap/server.key": "0400",
        "/run/secrets/dap/postgres_password": "0400",
        "/run/secrets/dap/mlflow_password": "0400",  # one per database it owns
    }
    for secret_file in ("server.key", "postgres_password", "mlflow_password"):
        assert is_secret(raw_upload(c, f"/run/secrets/dap/{secret_file}")["content"]), secret_file
    assert leaks(c.raw) == []
    # the entrypoint copies every private file where only postgres reads it
    start = upload(c, f"{pg.CONFIG_DIR}/start.sh")["content"]
    for f in ("server.crt", "server.key", "postgres_password", "mlflow_password"):
        assert f"/run/secrets/dap/{f} {pg.PRIVATE_DIR}/{f}" in start, f
    assert c.inputs["entrypoints"] == [f"{pg.CONFIG_DIR}/start.sh"]
    assert c.inputs["command"] == ["postgres", "-c", f"config_file={pg.CONFIG_DIR}/postgresql.conf"]
    assert env(c, "POSTGRES_PASSWORD_FILE") == f"{pg.PRIVATE_DIR}/postgres_password"


def test_a_server_without_databases_has_the_superuser_only(program):
    run = declared(program, role="postgres-data", databases=(), memory_mb=2048)
    c = run.named("svc-postgres-data")
    secrets = sorted(u["file"] for u in c.inputs["uploads"] if u["file"].endswith("_password"))
    assert secrets == ["/run/secrets/dap/postgres_password"]
    assert "CREATE" not in run.named("svc-postgres-data-credentials").inputs["create"]
    assert c.inputs["memory"] == 2048
    assert run.objects["result"].stream_routes[0].listen_port == 54322


def test_on_the_db_network_only_with_its_role_as_alias(program):
    c = declared(program).named("svc-postgres-service")
    assert c.inputs["networksAdvanced"] == [{"name": "dap-t-db", "aliases": ["postgres-service"]}]
    assert not c.inputs.get("ports")
    # health over TCP: the first-boot server listens on the socket only
    assert c.inputs["healthcheck"]["tests"] == ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"]


def test_certificate_names_and_signer(program):
    run = declared(program)
    assert run.named("svc-postgres-service-tls-csr").inputs["dnsNames"] == [
        "postgres-service.dap.example.test", "postgres-service", "dap-t-postgres-service",
    ]
    cert = run.named("svc-postgres-service-tls-cert")
    assert run.named("stack-ca-cert").urn in cert.depends_on and run.named("stack-ca-key").urn in cert.depends_on
    # the served chain is that leaf followed by the CA
    chain = upload(run.named("svc-postgres-service"), "/run/secrets/dap/server.crt")["content"]
    assert chain.count("BEGIN CERTIFICATE") == 2 and chain.endswith(cert.inputs["caCertPem"])


def test_credentials_step_runs_on_every_new_container(program):
    run = declared(program)
    step = run.named("svc-postgres-service-credentials")
    create = step.inputs["create"]
    assert create.startswith("docker exec -i -u postgres dap-t-postgres-service ")
    assert "ALTER ROLE mlflow LOGIN PASSWORD :" in create and "ALTER ROLE postgres PASSWORD :" in create
    assert step.inputs["triggers"] == ["svc-postgres-service_id"]
    assert run.named("svc-postgres-service-ready").urn in step.depends_on
    assert leaks(step.raw) == [] and "stdin" not in step.inputs  # passwords are read from files in the container


def test_postgres_tls_and_auth(deploy):
    d = deploy(runnerCount=0, postgresData={"memoryMb": 8192})
    for role in ("postgres-service", "postgres-data"):
        c = d.containers()[f"dap-dev-{role}"]
        assert env(c, "POSTGRES_PASSWORD_FILE")
        assert env(c, "POSTGRES_PASSWORD") is None
        assert c.inputs["shmSize"] >= 256
        conf = upload(c, "/etc/dap/postgresql.conf")["content"]
        assert "ssl = on" in conf
        hba = upload(c, "/etc/dap/pg_hba.conf")["content"]
        assert re.search(r"^hostssl\s+all\s+all\s+0\.0\.0\.0/0\s+scram-sha-256$", hba, re.M)
        assert not re.search(r"^host\s+.*(trust|md5|scram)", hba, re.M)
        assert "trust" not in hba
        assert upload(c, "/run/secrets/dap/server.key")["permissions"] == "0400"
    data_conf = upload(d.containers()["dap-dev-postgres-data"], "/etc/dap/postgresql.conf")["content"]
    assert "shared_buffers = '2048MB'" in data_conf and "effective_cache_size = '6144MB'" in data_conf
    assert d.containers()["dap-dev-postgres-data"].inputs["memory"] == 8192


def test_postgres_certificates_name_internal_and_external_hosts(deploy):
    d = deploy(runnerCount=0)
    csr = d.named("service-postgres-data-tls-csr")
    assert {"postgres-data.dap.example.test", "postgres-data"} <= set(csr.inputs["dnsNames"])
    proxy_csr = d.named("service-proxy-tls-csr")
    assert {"gitlab.dap.example.test", "registry.dap.example.test", "postgres-data.dap.example.test"} <= set(proxy_csr.inputs["dnsNames"])
    ca = d.named("stack-ca-cert")
    assert ca.inputs["isCaCertificate"] is True
