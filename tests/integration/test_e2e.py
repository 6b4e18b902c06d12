"""The platform deployed for real on the local Docker engine with the offline toolchain and image set,
then used the way its users use it: through the TLS proxy, with the generated credentials."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import make_stack, offline_images

pytestmark = pytest.mark.integration

DOMAIN = "dap-e2e.test"
HTTPS, HTTP = 18443, 18080
LOOPBACK = "127.0.0.1"


def e2e_config(runner_count: int = 1) -> dict:
    images = offline_images()
    return {
        "domain": DOMAIN,
        "serviceHost": {"publishAddress": LOOPBACK, "httpsPort": HTTPS, "httpPort": HTTP},
        "images": {**images, "pythonBase": "dap-offline/debian-base:bookworm", "jobDefault": "dap-offline/debian-base:bookworm"},
        "postgresData": {"memoryMb": 1024},
        "portainer": {"enabled": True},
        "runnerCount": runner_count,
        "devEnvironments": [{"name": "e2e"}],
    }


@contextlib.contextmanager
def platform_dns():
    """Resolve *.<domain> to the loopback address inside this test process only."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith("." + DOMAIN):
            host = LOOPBACK
        return real(host, *args, **kwargs)

    socket.getaddrinfo = fake
    try:
        yield
    finally:
        socket.getaddrinfo = real


def changes(result) -> dict:
    return {k: v for k, v in result.summary.resource_changes.items() if k != "same"}


def urns_by_op(events, op):
    return {
        e.resource_pre_event.metadata.urn
        for e in events
        if e.resource_pre_event is not None and e.resource_pre_event.metadata.op.value == op
    }


class Platform:
    def __init__(self, stack, outputs, workdir: Path):
        self.stack = stack
        self.workdir = workdir
        self.refresh(outputs)

    def refresh(self, outputs):
        self.outputs = {k: v.value for k, v in outputs.items()}  # automation OutputValue or anything with .value
        self.creds = self.outputs["credentials"]
        self.ca = self.workdir / "ca.crt"
        self.ca.write_text(self.outputs["caCertificate"])
        self.internal_ca = self.workdir / "internal-ca.crt"
        self.internal_ca.write_text(self.outputs["internalCaCertificate"])

    def https(self, name, path="/", auth=None, method="GET", ctx=None):
        ctx = ctx or ssl.create_default_context(cafile=str(self.ca))
        req = urllib.request.Request(f"https://{name}.{DOMAIN}:{HTTPS}{path}", method=method)
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
        with platform_dns():
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
                    return resp.status, dict(resp.headers), resp.read().decode(errors="replace")
            except urllib.error.HTTPError as err:
                return err.code, dict(err.headers), err.read().decode(errors="replace")


@pytest.fixture(scope="module")
def platform(project_dir, pulumi_env, tmp_path_factory):
    stack = make_stack(project_dir, pulumi_env, e2e_config(), prefix="e2e")
    workdir = tmp_path_factory.mktemp("e2e")
    prefix = f"dap-{stack.name}"
    try:
        result = stack.up(on_output=print)
        assert result.summary.result == "succeeded"
        yield Platform(stack, result.outputs, workdir)
    finally:
        with contextlib.suppress(Exception):
            stack.destroy(on_output=print)
        with contextlib.suppress(Exception):
            stack.workspace.remove_stack(stack.name, force=True)
        vols = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"name={prefix}-"], capture_output=True, text=True).stdout.split()
        if vols:
            subprocess.run(["docker", "volume", "rm", "-f", *vols], capture_output=True)


def container_health(prefix):
    names = subprocess.run(["docker", "ps", "-a", "--filter", f"name={prefix}-", "--format", "{{.Names}}"], capture_output=True, text=True).stdout.split()
    out = {}
    for n in names:
        out[n] = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", n], capture_output=True, text=True).stdout.strip()
    return out


def test_1_every_container_is_healthy(platform):
    health = container_health(f"dap-{platform.stack.name}")
    expected = {"proxy", "gitlab", "postgres-service", "postgres-data", "minio", "mlflow", "pgadmin", "portainer", "runner-1", "dev-e2e"}
    assert {n.removeprefix(f"dap-{platform.stack.name}-") for n in health} == expected
    assert set(health.values()) == {"running/healthy"}, health


def test_2_mlflow_through_the_proxy(platform, monkeypatch):
    import boto3
    import mlflow
    from botocore.config import Config

    assert platform.https("mlflow", "/api/2.0/mlflow/experiments/search?max_results=1")[0] == 401
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", platform.creds["mlflow-username"])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", platform.creds["mlflow-password"])
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(platform.ca))
    # downloads follow presigned URLs to https://s3.<domain> with plain `requests`: trust the CA there too
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(platform.ca))
    artifact = platform.workdir / "model-card.txt"
    artifact.write_text("trained by the e2e test\n")
    with platform_dns():
        client = mlflow.MlflowClient(tracking_uri=f"https://mlflow.{DOMAIN}:{HTTPS}")
        exp = client.create_experiment(f"e2e-{platform.stack.name}")
        run = client.create_run(exp)
        client.log_param(run.info.run_id, "alpha", "0.5")
        client.log_metric(run.info.run_id, "rmse", 0.125)
        client.log_artifact(run.info.run_id, str(artifact))
        client.set_terminated(run.info.run_id)
        back = client.get_run(run.info.run_id)
        assert back.data.params == {"alpha": "0.5"} and back.data.metrics == {"rmse": 0.125}
        assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["model-card.txt"]
        local = client.download_artifacts(run.info.run_id, "model-card.txt", str(platform.workdir))
        assert Path(local).read_text() == "trained by the e2e test\n"
        s3 = boto3.client(
            "s3", endpoint_url=f"https://s3.{DOMAIN}:{HTTPS}", verify=str(platform.ca),
            aws_access_key_id=platform.creds["minio-root-user"], aws_secret_access_key=platform.creds["minio-root-password"],
            region_name="us-east-1", config=Config(s3={"addressing_style": "path"}),
        )
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="mlflow").get("Contents", [])]
    assert any(k.endswith(f"{run.info.run_id}/artifacts/model-card.txt") for k in keys), keys
    (platform.workdir / "run_id").write_text(run.info.run_id)


def test_2_pgadmin_login_page(platform):
    status, _, body = platform.https("pgadmin", "/login")
    assert status == 200 and "pgAdmin" in body


def test_2_postgres_data_verify_full(platform):
    import psycopg

    conninfo = dict(
        host=f"postgres-data.{DOMAIN}", hostaddr=LOOPBACK, port=54322, dbname="postgres", user="postgres",
        password=platform.creds["postgres-data-superuser"], sslmode="verify-full", sslrootcert=str(platform.internal_ca),
    )
    with psycopg.connect(**conninfo) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS e2e_rows (id int PRIMARY KEY, label text)")
        conn.execute("INSERT INTO e2e_rows VALUES (1, 'alpha'), (2, 'beta') ON CONFLICT DO NOTHING")
        conn.commit()
        assert conn.execute("SELECT label FROM e2e_rows ORDER BY id").fetchall() == [("alpha",), ("beta",)]
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError):  # the wrong name fails verification
        psycopg.connect(**{**conninfo, "host": f"wrong.{DOMAIN}"}).close()


def test_2_unknown_host_and_http_redirect(platform):
    ctx = ssl.create_default_context(cafile=str(platform.ca))
    ctx.check_hostname = False
    status, _, body = platform.https("unknown", "/", ctx=ctx)
    assert status == 404
    conn = __import__("http.client").client.HTTPConnection(LOOPBACK, HTTP, timeout=10)
    conn.request("GET", "/users/sign_in", headers={"Host": f"gitlab.{DOMAIN}"})
    resp = conn.getresponse()
    assert resp.status == 301 and resp.getheader("Location") == f"https://gitlab.{DOMAIN}:{HTTPS}/users/sign_in"


def test_3_second_preview_and_up_change_nothing(platform):
    preview = platform.stack.preview()
    assert {k: v for k, v in preview.change_summary.items() if k != "same"} == {}
    up = platform.stack.up()
    assert changes(up) == {}


def test_4_scaling_touches_only_the_new_runner(platform):
    from pulumi import automation as auto

    stack = platform.stack
    stack.set_config("data-analysis-platform:runnerCount", auto.ConfigValue("2"))
    events = []
    up = stack.up(on_event=events.append)
    created, others = urns_by_op(events, "create"), {k for k in ("update", "replace", "delete") if up.summary.resource_changes.get(k)}
    assert created and all("runner-2" in u for u in created), created
    assert not others, up.summary.resource_changes
    assert "running/healthy" == container_health(f"dap-{stack.name}")[f"dap-{stack.name}-runner-2"]
    stack.set_config("data-analysis-platform:runnerCount", auto.ConfigValue("1"))
    events = []
    down = stack.up(on_event=events.append)
    assert urns_by_op(events, "delete") == created
    assert set(changes(down)) == {"delete"}


def test_5_dev_environment_ssh_reaches_mlflow(platform):
    env = platform.outputs["devEnvironments"]["e2e"]
    secrets = platform.outputs["devEnvironmentSecrets"]["e2e"]
    key = platform.workdir / "id_ed25519"
    key.write_text(secrets["privateKey"])
    key.chmod(0o600)
    known = platform.workdir / "known_hosts"
    known.write_text(f"[{LOOPBACK}]:{env['sshPort']} {env['hostPublicKey']}\n")
    script = (
        "import mlflow; "
        f"print('experiments', len(mlflow.MlflowClient('https://mlflow.{DOMAIN}').search_experiments()))"
    )
    cmd = [
        "ssh", "-i", str(key), "-p", str(env["sshPort"]), "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", f"dev@{LOOPBACK}", "python3", "-c", json.dumps(script),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("experiments ")
    # password and root logins are refused
    res = subprocess.run(["ssh", "-p", str(env["sshPort"]), "-o", f"UserKnownHostsFile={known}", "-o", "BatchMode=yes",
                          "-o", "PreferredAuthentications=password", f"root@{LOOPBACK}", "true"], capture_output=True, text=True, timeout=60)
    assert res.returncode != 0


def test_6_destroy_and_up_keeps_the_data(platform):
    import psycopg

    stack = platform.stack
    run_id = (platform.workdir / "run_id").read_text()
    stack.destroy()
    assert container_health(f"dap-{stack.name}") == {}
    up = stack.up()
    assert up.summary.result == "succeeded"
    platform.refresh(up.outputs)
    status, _, body = platform.https("mlflow", f"/api/2.0/mlflow/runs/get?run_id={run_id}", auth=(platform.creds["mlflow-username"], platform.creds["mlflow-password"]))
    assert status == 200 and '"rmse"' in body
    with psycopg.connect(host=f"postgres-data.{DOMAIN}", hostaddr=LOOPBACK, port=54322, dbname="postgres", user="postgres",
                         password=platform.creds["postgres-data-superuser"], sslmode="verify-full", sslrootcert=str(platform.internal_ca)) as conn:
        assert conn.execute("SELECT count(*) FROM e2e_rows").fetchone() == (2,)


def test_7_state_holds_no_plain_secret(platform):
    state = json.dumps(platform.stack.export_stack().deployment)
    secrets = [v for v in platform.creds.values() if isinstance(v, str) and len(v) >= 16]
    secrets += [v for env in platform.outputs["devEnvironmentSecrets"].values() for v in env.values()]
    assert len(secrets) >= 8
    for value in secrets:
        assert value not in state
    assert "PRIVATE KEY" not in state
