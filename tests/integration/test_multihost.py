"""The platform on two Docker hosts, for real: the service host on this machine's engine, and a runner host with a
dev environment on a second engine in a network namespace of its own (scripts/second-host.sh), reached over
tcp:// with mutual TLS. The runner registers with GitLab through the service host's address; the dev
environment is served by that host's own proxy with the stack CA and reaches MLflow on the service host."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from dap_components.containers import HEALTH_INTERVAL_MAX

from .client import PlatformClient, docker, gitlab_api, mint_gitlab_token, wait_healthy
from .conftest import ROOT, ci_config, make_stack, offline_images

pytestmark = pytest.mark.integration

DOMAIN = "dap-mh.test"
HTTPS, HTTP = 19443, 19080
SECOND_HOST = ROOT / "scripts" / "second-host.sh"


def second_host(*args: str) -> dict[str, str]:
    res = subprocess.run([str(SECOND_HOST), *args], capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    return dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)


def on_second(env: dict[str, str], *args: str) -> str:
    res = subprocess.run(["docker", "-H", env["SOCKET"], *args], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.fixture(scope="module")
def two_hosts(project_dir, pulumi_env, tmp_path_factory):
    images = offline_images()
    env = second_host("up", images["gitlabRunner"], images["nginx"], images["devPython"], images["jobDefault"], images["watchdog"])
    tls = {k: (Path(env["TLS_DIR"]) / f).read_text() for k, f in
           (("caMaterial", "ca.pem"), ("certMaterial", "cert.pem"), ("keyMaterial", "key.pem"))}
    config = {
        **ci_config(),
        "domain": DOMAIN,
        # the proxy is published on the machine's end of the veth pair: the address the second host reaches
        "serviceHost": {"publishAddress": env["HOST_ADDR"], "address": env["HOST_ADDR"], "httpsPort": HTTPS, "httpPort": HTTP},
        "runnerCount": 1,
        # that engine's socket on this machine, for its watchdog (on a real second machine: its /var/run/docker.sock)
        "runnerHosts": [{"dockerHost": env["DOCKER_TCP"], "dockerSocket": env["SOCKET"].removeprefix("unix://"), "address": env["PEER_ADDR"], **tls}],
        "devEnvironments": [{"name": "far", "host": 0}],
    }
    stack = make_stack(project_dir, pulumi_env, config, prefix="mh")
    prefix = f"dap-{stack.name}"
    try:
        up = stack.up(on_output=print)
        assert up.summary.result == "succeeded"
        workdir = tmp_path_factory.mktemp("mh")
        outputs = {k: v.value for k, v in up.outputs.items()}
        yield {
            "env": env, "prefix": prefix, "stack": stack, "outputs": outputs,
            "service": PlatformClient(DOMAIN, HTTPS, outputs, workdir, address=env["HOST_ADDR"]),
            "second": PlatformClient(DOMAIN, HTTPS, outputs, workdir, address=env["PEER_ADDR"]),
        }
    finally:
        try:
            stack.destroy(on_output=print)
        finally:
            stack.workspace.remove_stack(stack.name, force=True)
            for host in (None, env["SOCKET"]):
                cmd = ["docker"] + (["-H", host] if host else [])
                vols = subprocess.run([*cmd, "volume", "ls", "-q", "--filter", f"name=^{prefix}-"], capture_output=True, text=True).stdout.split()
                if vols:
                    subprocess.run([*cmd, "volume", "rm", "-f", *vols], capture_output=True)
            second_host("down")


def test_each_container_runs_on_its_host(two_hosts):
    env, prefix = two_hosts["env"], two_hosts["prefix"]
    here = set(docker("ps", "--filter", f"name=^{prefix}-", "--format", "{{.Names}}").split())
    there = set(on_second(env, "ps", "--filter", f"name=^{prefix}-", "--format", "{{.Names}}").split())
    assert {f"{prefix}-runner-1", f"{prefix}-dev-far", f"{prefix}-proxy", f"{prefix}-watchdog"} == there
    assert f"{prefix}-gitlab" in here and f"{prefix}-runner-1" not in here and f"{prefix}-dev-far" not in here
    wait_healthy(prefix, timeout=HEALTH_INTERVAL_MAX + 5)


def test_the_runner_on_the_second_host_registered_through_the_service_host(two_hosts):
    env, prefix = two_hosts["env"], two_hosts["prefix"]
    runner = f"{prefix}-runner-1"
    # platform names resolve to the service host's address there
    hosts = on_second(env, "exec", runner, "cat", "/etc/hosts")
    assert f"{env['HOST_ADDR']}\tgitlab.{DOMAIN}" in hosts or f"{env['HOST_ADDR']} gitlab.{DOMAIN}" in hosts
    on_second(env, "exec", runner, "gitlab-runner", "verify", "--config", "/etc/gitlab-runner/config.toml")
    token = "glpat-" + secrets.token_hex(10)
    mint_gitlab_token(f"{prefix}-gitlab", token)
    runners = gitlab_api(f"{prefix}-gitlab", "/runners/all", token)
    assert [r["description"] for r in runners] == [runner]


def test_jupyter_is_served_by_the_second_hosts_proxy_with_the_stack_ca(two_hosts):
    second = two_hosts["second"]
    token = two_hosts["outputs"]["devEnvironmentSecrets"]["far"]["jupyterToken"]
    assert two_hosts["outputs"]["devEnvironments"]["far"]["jupyterUrl"] == f"https://jupyter-far.{DOMAIN}:{HTTPS}"
    deadline = time.monotonic() + 60
    while True:
        status, _, body = second.https("jupyter-far", f"/api/status?token={token}")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status == 200 and "started" in json.loads(body)
    assert second.https("jupyter-far", "/api/status")[0] in (401, 403)  # no token, no entry


def test_the_dev_environment_on_the_second_host_reaches_mlflow(two_hosts):
    env, prefix = two_hosts["env"], two_hosts["prefix"]
    script = "import mlflow; print('experiments', len(mlflow.MlflowClient().search_experiments()))"
    out = on_second(env, "exec", "-u", "dev", f"{prefix}-dev-far", "python3", "-c", script)
    assert out.startswith("experiments ")


def test_the_second_hosts_watchdog_restarts_a_killed_container_there_only(two_hosts):
    env, prefix = two_hosts["env"], two_hosts["prefix"]
    mounts = json.loads(on_second(env, "inspect", "-f", "{{json .Mounts}}", f"{prefix}-watchdog"))
    assert [m["Source"] for m in mounts] == [env["SOCKET"].removeprefix("unix://")]  # that engine's socket, not this one's
    on_second(env, "kill", f"{prefix}-runner-1")
    deadline = time.monotonic() + 30
    while on_second(env, "inspect", "-f", "{{.State.Status}}", f"{prefix}-runner-1").strip() != "running":
        assert time.monotonic() < deadline, on_second(env, "logs", f"{prefix}-watchdog")
        time.sleep(0.5)
    assert f"{prefix}-runner-1 was exited" in on_second(env, "logs", f"{prefix}-watchdog")
    assert f"{prefix}-runner-1" not in docker("logs", f"{prefix}-watchdog")  # the service host's watchdog kept out
