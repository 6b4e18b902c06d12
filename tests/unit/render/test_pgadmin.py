"""render/pgadmin.py: servers.json parsed back: every server over verified TLS, no password anywhere."""

import json

from dap_components.render.pgadmin import PgServer, render_servers_json

SERVERS = [PgServer("postgres-service (MLflow)", "postgres-service", "postgres"), PgServer("postgres-data", "postgres-data", "analyst", port=5433, maintenance_db="data")]


def test_servers_numbered_from_one_in_order():
    doc = json.loads(render_servers_json(SERVERS, "/etc/dap/ca.crt"))
    assert list(doc) == ["Servers"] and sorted(doc["Servers"]) == ["1", "2"]
    one, two = doc["Servers"]["1"], doc["Servers"]["2"]
    assert (one["Name"], one["Host"], one["Port"], one["MaintenanceDB"], one["Username"]) == (
        "postgres-service (MLflow)", "postgres-service", 5432, "postgres", "postgres")
    assert (two["Name"], two["Host"], two["Port"], two["MaintenanceDB"], two["Username"]) == (
        "postgres-data", "postgres-data", 5433, "data", "analyst")
    assert {s["Group"] for s in doc["Servers"].values()} == {"Data Analysis Platform"}


def test_tls_verified_against_the_given_ca():
    doc = json.loads(render_servers_json(SERVERS, "/etc/dap/ca.crt"))
    for s in doc["Servers"].values():
        assert s["ConnectionParameters"] == {"sslmode": "verify-full", "sslrootcert": "/etc/dap/ca.crt", "connect_timeout": 10}


def test_no_password_is_written():
    text = render_servers_json(SERVERS, "/etc/dap/ca.crt")
    keys = set()

    def walk(v):
        if isinstance(v, dict):
            keys.update(v)
            for x in v.values():
                walk(x)

    walk(json.loads(text))
    assert not {k for k in keys if "pass" in k.lower()}  # Password, PassFile, SavePassword...


def test_stable_text():
    a = render_servers_json(SERVERS, "/ca")
    assert a == render_servers_json(list(SERVERS), "/ca") and a.endswith("}\n")
    assert json.loads(render_servers_json([], "/ca")) == {"Servers": {}}
