"""The program's rendered files and wiring against the real software of the offline image set.

The program runs under mocks that create its Docker networks, volumes and containers with the docker CLI
on the local engine and run its provisioning commands for real (docker_mocks.py); then the platform is
used through its TLS proxy as users use it. This checks what the program generates (nginx, PostgreSQL,
MinIO, MLflow, pgAdmin, runner and dev-environment files, secrets as files, the CA) with real servers.
`pulumi up` itself is covered by test_e2e.py, which needs the Pulumi toolchain."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid

import pulumi
import pytest
from pulumi.runtime import mocks as pmocks
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests.conftest import RecordingMonitor

from dap_components.config import PROJECT, load_config

from .conftest import docker_available
from .docker_mocks import DockerMocks
from .test_e2e import DOMAIN, HTTPS, LOOPBACK, Platform, container_health, e2e_config, platform_dns

pytestmark = pytest.mark.integration


class Value:
    """What Platform.refresh() reads from each output (.value), as from the Automation API."""

    def __init__(self, value):
        self.value = value


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    if not docker_available():
        pytest.fail("no Docker engine answers: run `make engine`")
    stack = f"ct{uuid.uuid4().hex[:6]}"
    mocks = DockerMocks(prefix=f"dap-{stack}")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = RecordingMonitor(mocks)
    pmocks.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    cfg = load_config(e2e_config())
    from dap_components.platform import build

    resolved = {}

    def program():
        outputs = build(cfg, stack)

        async def settle():
            for k, v in outputs.items():
                resolved[k] = Value(await pulumi.Output.from_input(v).future())

        loop.create_task(settle())

    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    try:
        _sync_await(run_pulumi_func(program))
        p = Platform(type("S", (), {"name": stack})(), resolved, tmp_path_factory.mktemp("contract"))
        p.monitor = monitor
        p.mocks = mocks
        yield p
    finally:
        if os.environ.get("DAP_KEEP") != "1":  # DAP_KEEP=1 leaves the containers for inspection
            mocks.cleanup()
        loop.close()


def test_every_container_runs_healthy(platform):
    health = container_health(f"dap-{platform.stack.name}")
    roles = {n.removeprefix(f"dap-{platform.stack.name}-") for n in health}
    assert roles == {"proxy", "gitlab", "postgres-service", "postgres-data", "minio", "mlflow", "pgadmin", "portainer", "runner-1", "dev-e2e"}
    assert set(health.values()) == {"running/healthy"}, health


def test_only_the_proxy_publishes_ports(platform):
    out = subprocess.run(["docker", "ps", "--filter", f"name=^dap-{platform.stack.name}-", "--format", "{{.Names}} {{.Ports}}"],
                         capture_output=True, text=True).stdout.splitlines()
    publishing = [line.split()[0] for line in out if "->" in line]
    assert publishing == [f"dap-{platform.stack.name}-proxy"]


def test_databases_are_unreachable_from_outside_their_networks(platform):
    """minio and postgres sit on internal networks only: no route out, no published port."""
    name = f"dap-{platform.stack.name}-postgres-data"
    nets = json.loads(subprocess.run(["docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", name], capture_output=True, text=True).stdout)
    assert list(nets) == [f"dap-{platform.stack.name}-db"]
    internal = subprocess.run(["docker", "network", "inspect", "-f", "{{.Internal}}", f"dap-{platform.stack.name}-db"], capture_output=True, text=True).stdout.strip()
    assert internal == "true"


def test_mlflow_with_basic_auth_artifacts_in_the_bucket(platform, monkeypatch):
    from .test_e2e import test_2_mlflow_through_the_proxy

    test_2_mlflow_through_the_proxy(platform, monkeypatch)


def test_bucket_key_is_limited_to_its_bucket(platform):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    # read the MLflow key back from the container it was handed to
    aws = subprocess.run(["docker", "exec", f"dap-{platform.stack.name}-mlflow", "cat", "/run/secrets/dap/aws_credentials"],
                         capture_output=True, text=True).stdout
    key_id = aws.split("aws_access_key_id = ")[1].split()[0]
    secret = aws.split("aws_secret_access_key = ")[1].split()[0]
    def client(key, secret_key):
        return boto3.client("s3", endpoint_url=f"https://s3.{DOMAIN}:{HTTPS}", verify=str(platform.ca), aws_access_key_id=key,
                            aws_secret_access_key=secret_key, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))

    with platform_dns():
        root = client(platform.creds["minio-root-user"], platform.creds["minio-root-password"])
        root.create_bucket(Bucket="other-team")
        root.put_object(Bucket="other-team", Key="private.txt", Body=b"not for mlflow")
        s3 = client(key_id, secret)
        s3.put_object(Bucket="mlflow", Key="contract/ok.txt", Body=b"ok")
        assert s3.get_object(Bucket="mlflow", Key="contract/ok.txt")["Body"].read() == b"ok"
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["mlflow"]
        with pytest.raises(ClientError):
            s3.create_bucket(Bucket="not-mlflow")
        with pytest.raises(ClientError):
            s3.get_object(Bucket="other-team", Key="private.txt")
        with pytest.raises(ClientError):
            s3.put_object(Bucket="other-team", Key="x.txt", Body=b"x")


def test_portainer_admin_password_set_at_first_start(platform):
    import urllib.request

    body = json.dumps({"username": platform.creds["portainer-username"], "password": platform.creds["portainer-password"]}).encode()
    req = urllib.request.Request(f"https://portainer.{DOMAIN}:{HTTPS}/api/auth", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    ctx = __import__("ssl").create_default_context(cafile=str(platform.ca))
    with platform_dns(), urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
        assert resp.status == 200 and "jwt" in json.loads(resp.read())
    wrong = json.dumps({"username": "admin", "password": "wrong-password"}).encode()
    with platform_dns(), pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(urllib.request.Request(req.full_url, data=wrong, method="POST", headers={"Content-Type": "application/json"}),
                               context=ctx, timeout=30)


def test_pgadmin_login_page(platform):
    from .test_e2e import test_2_pgadmin_login_page

    test_2_pgadmin_login_page(platform)


def test_postgres_data_verify_full(platform):
    from .test_e2e import test_2_postgres_data_verify_full

    test_2_postgres_data_verify_full(platform)


def test_postgres_service_has_the_mlflow_role_and_no_plain_auth(platform):
    import psycopg

    base = dict(host=f"postgres-service.{DOMAIN}", hostaddr=LOOPBACK, port=54321, dbname="postgres", user="postgres",
                password=platform.creds["postgres-service-superuser"], sslrootcert=str(platform.internal_ca))
    with psycopg.connect(**base, sslmode="verify-full") as conn:
        assert conn.execute("SELECT datname FROM pg_database WHERE datname = 'mlflow'").fetchone() == ("mlflow",)
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mlflow'").fetchone()
        assert owner == ("mlflow",)
    with pytest.raises(psycopg.OperationalError, match="no encryption|reject"):
        psycopg.connect(**base, sslmode="disable").close()


def test_unknown_host_and_http_redirect(platform):
    from .test_e2e import test_2_unknown_host_and_http_redirect

    test_2_unknown_host_and_http_redirect(platform)


def test_runner_registered_through_the_api(platform):
    name = f"dap-{platform.stack.name}-runner-1"
    conf = subprocess.run(["docker", "exec", name, "cat", "/etc/gitlab-runner/config.toml"], capture_output=True, text=True).stdout
    assert 'token = "glrt-' in conf and f'url = "https://gitlab.{DOMAIN}"' in conf
    verify = subprocess.run(["docker", "exec", name, "gitlab-runner", "verify", "--config", "/etc/gitlab-runner/config.toml"],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_dev_environment_ssh_reaches_mlflow(platform):
    from .test_e2e import test_5_dev_environment_ssh_reaches_mlflow

    test_5_dev_environment_ssh_reaches_mlflow(platform)


def test_no_secret_in_any_container_environment(platform):
    values = [v for k, v in platform.creds.items() if k.endswith(("-password", "-superuser")) or k == "minio-root-user"]
    assert len(values) >= 6
    for name in container_health(f"dap-{platform.stack.name}"):
        env = subprocess.run(["docker", "inspect", "-f", "{{json .Config.Env}}", name], capture_output=True, text=True).stdout
        for v in values:
            assert v not in env, name


def test_z_removing_a_runner_deletes_it_from_gitlab(platform):
    """The registration's delete step, as pulumi-command runs it when a RunnerHost goes away."""
    reg = next(r for r in platform.monitor.recorded if r.name == "runner-1-registration")
    created = json.loads(platform.mocks.stdout["runner-1-registration"])
    gitlab = f"dap-{platform.stack.name}-gitlab"
    token = next(r for r in platform.monitor.recorded if r.name == "service-gitlab-admin-pat")
    pat = platform.mocks.secret_values[token.name]

    def runner_ids():
        out = subprocess.run(["docker", "exec", "-i", gitlab, "sh", "-c", 'read -r t; curl -sf -H "PRIVATE-TOKEN: $t" http://127.0.0.1/api/v4/runners/all'],
                             input=pat + "\n", capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return {r["id"] for r in json.loads(out.stdout)}

    assert created["id"] in runner_ids()
    env = {"PATH": os.environ["PATH"], "PULUMI_COMMAND_STDOUT": platform.mocks.stdout["runner-1-registration"], **reg.inputs["environment"]}
    res = subprocess.run(["/bin/sh", "-c", reg.inputs["delete"]], input=reg.inputs["stdin"], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert created["id"] not in runner_ids()
    # deleting again (already gone) still succeeds, so a retried destroy does not get stuck
    res = subprocess.run(["/bin/sh", "-c", reg.inputs["delete"]], input=reg.inputs["stdin"], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
