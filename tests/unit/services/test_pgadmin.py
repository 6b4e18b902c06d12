"""services/pgadmin.py: pgAdmin with both databases registered (TLS verified against the stack CA), its login
reconciled on every new container, the psql tool off."""

import ast
import json

import pulumi

from tests.conftest import leaks
from tests.unit.helpers import STACK_CA_PEM, env, host_context, is_secret, raw_upload, upload

from dap_components.routes import HttpRoute
from dap_components.services import pgadmin


def declared(program, enable_psql=False, **config):
    def fn():
        r = pgadmin.declare(host_context(name="svc", prefix="dap-t", **config), enable_psql=enable_psql)
        return {"result": r, "credentials": pulumi.Output.from_input(r.credentials)}

    return program(fn)


def heredoc_python(script):
    return script.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]


def test_servers_registered_with_verified_tls(program):
    run = declared(program)
    c = run.named("svc-pgadmin")
    servers = json.loads(upload(c, "/etc/dap/servers.json")["content"])["Servers"]
    assert {s["Host"]: s["Name"] for s in servers.values()} == {
        "postgres-service": "postgres-service (MLflow)", "postgres-data": "postgres-data",
    }
    for s in servers.values():
        assert s["ConnectionParameters"]["sslmode"] == "verify-full"
        assert s["ConnectionParameters"]["sslrootcert"] == pgadmin.CA_FILE
        assert s["Username"] == "postgres" and s["Port"] == 5432
    assert env(c, "PGADMIN_SERVER_JSON_FILE") == "/etc/dap/servers.json"
    assert upload(c, pgadmin.CA_FILE)["content"] == STACK_CA_PEM
    # pgAdmin reaches both servers on the db network, and is reached by the proxy on the web network
    assert c.inputs["networksAdvanced"] == [{"name": "dap-t-web", "aliases": ["pgadmin"]}, {"name": "dap-t-db"}]


def test_trusts_the_stack_ca_even_when_the_proxies_serve_the_users_certificate(program):
    """The CA that signs the PostgreSQL certificates, whatever the proxies serve."""
    tls = {"mode": "provided", "certificate": "-----BEGIN CERTIFICATE-----\nUSER\n-----END CERTIFICATE-----\n",
           "privateKey": "-----BEGIN PRIVATE KEY-----\nmocksecret\n-----END PRIVATE KEY-----\n"}
    assert upload(declared(program, tls=tls).named("svc-pgadmin"), pgadmin.CA_FILE)["content"] == STACK_CA_PEM


def test_login_from_a_file(program):
    run = declared(program)
    c = run.named("svc-pgadmin")
    email = "admin@dap.example.test"
    assert env(c, "PGADMIN_DEFAULT_EMAIL") == email
    assert env(c, "PGADMIN_DEFAULT_PASSWORD_FILE") == pgadmin.PASSWORD_FILE and env(c, "PGADMIN_DEFAULT_PASSWORD") is None
    pw = raw_upload(c, pgadmin.PASSWORD_FILE)
    assert is_secret(pw["content"]) and pw["permissions"] == "0444"  # pgAdmin (uid 5050) reads it itself
    assert leaks(c.raw) == []
    creds, secret = run.outputs["credentials"]
    assert secret and creds["pgadmin-email"] == email and set(creds) == {"pgadmin-email", "pgadmin-password"}
    # the special-use top-level domain of the login is allowed
    assert env(c, "PGADMIN_CONFIG_ALLOW_SPECIAL_EMAIL_DOMAINS") == "['test']"


def test_special_domain_follows_the_configured_domain(program):
    c = declared(program, domain="dap.corp.internal").named("svc-pgadmin")
    assert env(c, "PGADMIN_DEFAULT_EMAIL") == "admin@dap.corp.internal"
    assert env(c, "PGADMIN_CONFIG_ALLOW_SPECIAL_EMAIL_DOMAINS") == "['internal']"


def test_psql_tool_off_unless_asked(program):
    assert env(declared(program).named("svc-pgadmin"), "PGADMIN_CONFIG_ENABLE_PSQL") == "False"
    assert env(declared(program, enable_psql=True).named("svc-pgadmin"), "PGADMIN_CONFIG_ENABLE_PSQL") == "True"


def test_behind_the_proxy(program):
    run = declared(program)
    r = run.objects["result"]
    assert r.http_routes == [HttpRoute("pgadmin.dap.example.test", "pgadmin", 80)]
    assert r.urls == {"pgadmin": "https://pgadmin.dap.example.test"}
    c = run.named("svc-pgadmin")
    for key in ("PROXY_X_FOR_COUNT", "PROXY_X_PROTO_COUNT", "PROXY_X_HOST_COUNT"):
        assert env(c, f"PGADMIN_CONFIG_{key}") == "1", key
    assert env(c, "PGADMIN_CONFIG_SESSION_COOKIE_SECURE") == "True"
    assert c.inputs["capabilities"] == {"drops": ["ALL"], "adds": ["CAP_NET_BIND_SERVICE"]}
    assert not c.inputs.get("ports")


def test_credentials_step(program):
    run = declared(program)
    step = run.named("svc-pgadmin-credentials")
    assert step.inputs["create"].startswith("docker exec -i -u pgadmin dap-t-pgadmin ")
    assert step.inputs["triggers"] == ["svc-pgadmin_id"] and run.named("svc-pgadmin-ready").urn in step.depends_on
    assert leaks(step.raw) == [] and "stdin" not in step.inputs  # the password is read from the file in the container
    assert run.objects["result"].ready is not None  # dependents wait for the step


def test_reconcile_script_is_valid_python_that_reads_the_password_file():
    script = pgadmin.reconcile_script("admin@dap.example.test")
    assert script.startswith("set -eu\ncd /pgadmin4\n")
    code = heredoc_python(script)
    tree = ast.parse(code)  # a syntax error here would only show at deploy time
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert pgadmin.PASSWORD_FILE in strings and "admin@dap.example.test" in strings
    # signs in first; resets with pgAdmin's own setup.py only when refused, its arguments inside the process
    assert code.index("/authenticate/login") < code.index('"update-user"')
    assert 'sys.argv = ["setup.py", "update-user", "admin@dap.example.test", "--password", password' in code
