"""PostgreSQL files: tuning derived from memory, TLS and SCRAM-only access, safe init SQL."""

import pytest

from dap_components.render.postgres import (
    data_tuning, render_pg_hba, render_reconcile_script, render_postgresql_conf, render_start_script, service_tuning, shm_size_mb,
)


def settings(text):
    return dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line and not line.startswith("#"))


@pytest.mark.parametrize("memory,shared,cache,maint,max_wal", [
    (1024, "'256MB'", "'768MB'", "'128MB'", "'2048MB'"),
    (8192, "'2048MB'", "'6144MB'", "'1024MB'", "'16384MB'"),
    (65536, "'16384MB'", "'49152MB'", "'2048MB'", "'16384MB'"),
])
def test_data_tuning_follows_memory(memory, shared, cache, maint, max_wal):
    s = settings(render_postgresql_conf(data_tuning(memory, 50)))
    assert (s["shared_buffers"], s["effective_cache_size"], s["maintenance_work_mem"], s["max_wal_size"]) == (shared, cache, maint, max_wal)
    assert s["checkpoint_timeout"] == "'15min'" and s["checkpoint_completion_target"] == "0.9"


def test_work_mem_fits_memory():
    for memory in (256, 2048, 16384):
        t = data_tuning(memory, 50)
        assert t.shared_buffers_mb + t.work_mem_mb * t.max_connections * 3 <= memory + 4 * 50 * 3
        assert t.work_mem_mb >= 4


def test_data_differs_from_service():
    svc, data = settings(render_postgresql_conf(service_tuning())), settings(render_postgresql_conf(data_tuning(4096)))
    assert svc["shared_buffers"] != data["shared_buffers"] and svc["max_wal_size"] != data["max_wal_size"]
    assert shm_size_mb(service_tuning()) >= 256 and shm_size_mb(data_tuning(8192)) >= 256


def test_tls_and_hba():
    s = settings(render_postgresql_conf(service_tuning()))
    assert s["ssl"] == "on" and s["ssl_min_protocol_version"] == "'TLSv1.2'" and s["password_encryption"] == "'scram-sha-256'"
    hba = [line.split() for line in render_pg_hba().splitlines() if line and not line.startswith("#")]
    network = [r for r in hba if r[0] != "local"]
    assert all(r[0] == "hostssl" and r[-1] == "scram-sha-256" or r[0] == "host" and r[-1] == "reject" for r in network)
    assert ["local", "all", "postgres", "peer"] in hba and not any("trust" in r for r in hba)


def test_start_script_installs_private_copies():
    start = render_start_script(["server.key", "postgres_password"])
    assert "install -o postgres -g postgres -m 0600 /run/secrets/dap/server.key /var/lib/postgresql/dap/server.key" in start
    assert start.rstrip().endswith('exec docker-entrypoint.sh "$@"')


def test_reconcile_sets_every_password_from_its_file_and_creates_what_is_missing():
    script = render_reconcile_script(["mlflow"])
    sql = script.split("<<'SQL'\n", 1)[1].split("\nSQL\n", 1)[0].splitlines()
    assert sql == [
        "\\set pw `cat /var/lib/postgresql/dap/postgres_password`",
        "ALTER ROLE postgres PASSWORD :'pw';",
        "SELECT 'CREATE ROLE mlflow' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mlflow')\\gexec",
        "\\set pw `cat /var/lib/postgresql/dap/mlflow_password`",
        "ALTER ROLE mlflow LOGIN PASSWORD :'pw';",
        "SELECT 'CREATE DATABASE mlflow OWNER mlflow' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow')\\gexec",
        "REVOKE ALL ON DATABASE mlflow FROM PUBLIC;",
    ]
    assert "ON_ERROR_STOP=1" in script and script.startswith("set -eu")
    # postgres-data has no owned database: the superuser only
    assert "CREATE" not in render_reconcile_script([])
    with pytest.raises(ValueError):
        render_reconcile_script(["MLflow; DROP"])
