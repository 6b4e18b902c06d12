"""The platform deployed for real: `pulumi up` with the offline toolchain and image set on the local Docker
engine, then used the way its users use it, through the TLS proxy with the generated credentials, and put
through what happens to a deployment: a preview right after, a refresh, restarts, scaling, destroy + up.

The tests run in file order against one deployment (module fixture); each later one relies on the state the
earlier ones left (e.g. the MLflow run written in test_10 is looked for after destroy + up in test_70)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import time
import uuid
from pathlib import Path
from typing import Optional

import pytest

from dap_components.containers import HEALTH_INTERVAL_MAX
from dap_components.render import pgadmin

from .client import (
    LOOPBACK,
    PlatformClient,
    containers,
    docker,
    gitlab_api,
    health,
    mint_gitlab_token,
    platform_dns,
    remove_volumes,
    wait_healthy,
)
from .browser import Browser
from .browser import available as browser_here
from .conftest import ROOT, ci_config, make_stack, write_stack_config

pytestmark = pytest.mark.integration

DOMAIN = "dap-e2e.test"
HTTPS, HTTP = 18443, 18080
ROLES = {"proxy", "gitlab", "postgres-service", "postgres-data", "minio", "mlflow", "pgadmin", "portainer", "runner-1", "dev-e2e", "dev-rita", "watchdog"}


def e2e_config(runner_count: int = 1) -> dict:
    cfg = ci_config()
    return {
        **cfg,
        "domain": DOMAIN,
        "serviceHost": {"publishAddress": LOOPBACK, "httpsPort": HTTPS, "httpPort": HTTP},
        "postgresData": {"memoryMb": 1024},
        "portainer": {"enabled": True},
        "runnerCount": runner_count,
        "devEnvironments": [{"name": "e2e"}, {"name": "rita", "image": "dev-python-r"}],
    }


def changes(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "same" and v}


def urns_by_op(events, op):
    return {
        e.resource_pre_event.metadata.urn
        for e in events
        if e.resource_pre_event is not None and e.resource_pre_event.metadata.op.value == op
    }


class Deployment:
    def __init__(self, stack, project_dir: Path, workdir: Path, backend: Path):
        self.stack = stack
        self.backend = backend
        self.project_dir = project_dir
        self.workdir = workdir
        self.prefix = f"dap-{stack.name}"
        self.client: PlatformClient
        self.memo: dict = {}  # what earlier tests wrote, for later ones to find

    def use(self, outputs) -> None:
        self.client = PlatformClient(DOMAIN, HTTPS, {k: v.value for k, v in outputs.items()}, self.workdir)

    def state_file(self) -> Path:
        files = list(self.backend.glob(f".pulumi/stacks/*/{self.stack.name}.json"))
        assert len(files) == 1, files
        return files[0]

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def configure(self, **changes) -> None:
        write_stack_config(self.project_dir, self.stack.name, e2e_config(**changes))


@pytest.fixture(scope="module")
def dep(project_dir, pulumi_env, tmp_path_factory):
    stack = make_stack(project_dir, pulumi_env, e2e_config(), prefix="e2e")
    backend = Path(pulumi_env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    d = Deployment(stack, project_dir, tmp_path_factory.mktemp("e2e"), backend)
    try:
        t0 = time.monotonic()
        result = stack.up(on_output=print)
        d.memo["cold_up_s"] = time.monotonic() - t0
        assert result.summary.result == "succeeded"
        d.use(result.outputs)
        yield d
    finally:
        try:
            stack.destroy(on_output=print)
        finally:
            stack.workspace.remove_stack(stack.name, force=True)
            remove_volumes(d.prefix)


# -- right after a cold up ---------------------------------------------------------------------------------


def test_01_cold_up_leaves_every_container_healthy(dep):
    # `up` ends when every service answered its probe; the engine's own status follows at its next check
    wait_healthy(dep.prefix, timeout=HEALTH_INTERVAL_MAX + 5)
    assert {n.removeprefix(dep.prefix + "-") for n in health(dep.prefix)} == ROLES


def test_02_preview_right_after_a_cold_up_plans_nothing(dep):
    preview = dep.stack.preview(diff=True)
    assert changes(preview.change_summary) == {}, preview.stdout[-4000:]


def test_03_only_the_proxy_publishes_and_data_stays_on_internal_networks(dep):
    publishing = [n for n in containers(dep.prefix) if docker("port", n).strip()]
    assert publishing == [dep.name("proxy")]
    for role in ("postgres-service", "postgres-data", "minio"):
        nets = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", dep.name(role)))
        for net in nets:
            assert docker("network", "inspect", "-f", "{{.Internal}}", net).strip() == "true", (role, net)


# -- the services, through the proxy -----------------------------------------------------------------------


def test_10_mlflow_run_with_artifact_through_the_proxy(dep, monkeypatch):
    import mlflow

    c = dep.client
    assert c.https("mlflow", "/api/2.0/mlflow/experiments/search?max_results=1")[0] == 401
    for k, v in c.mlflow_env().items():
        monkeypatch.setenv(k, v)
    artifact = dep.workdir / "model-card.txt"
    artifact.write_text("trained by the e2e test\n")
    with platform_dns(DOMAIN):
        client = mlflow.MlflowClient(tracking_uri=c.url("mlflow", ""))
        exp = client.create_experiment(f"e2e-{dep.stack.name}")
        run = client.create_run(exp)
        client.log_param(run.info.run_id, "alpha", "0.5")
        client.log_metric(run.info.run_id, "rmse", 0.125)
        client.log_artifact(run.info.run_id, str(artifact))
        client.set_terminated(run.info.run_id)
        back = client.get_run(run.info.run_id)
        assert back.data.params == {"alpha": "0.5"} and back.data.metrics == {"rmse": 0.125}
        assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["model-card.txt"]
        local = client.download_artifacts(run.info.run_id, "model-card.txt", str(dep.workdir))
        assert Path(local).read_text() == "trained by the e2e test\n"
        s3 = c.s3(c.creds["minio-root-user"], c.creds["minio-root-password"])
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="mlflow").get("Contents", [])]
    assert any(k.endswith(f"{run.info.run_id}/artifacts/model-card.txt") for k in keys), keys
    dep.memo["run_id"] = run.info.run_id


def mlflow_artifact_text(dep, run_id: str) -> str:
    import mlflow

    c = dep.client
    with pytest.MonkeyPatch.context() as mp, platform_dns(DOMAIN):
        for k, v in c.mlflow_env().items():
            mp.setenv(k, v)
        client = mlflow.MlflowClient(tracking_uri=c.url("mlflow", ""))
        assert client.get_run(run_id).data.metrics == {"rmse": 0.125}
        out = dep.workdir / f"download-{uuid.uuid4().hex[:6]}"
        out.mkdir()
        return Path(client.download_artifacts(run_id, "model-card.txt", str(out))).read_text()


def mlflow_bucket_key(dep) -> tuple[str, str]:
    """The key MLflow was handed (read back from its container), to use it as MLflow does."""
    aws = docker("exec", dep.name("mlflow"), "cat", "/run/secrets/dap/aws_credentials")
    return aws.split("aws_access_key_id = ")[1].split()[0], aws.split("aws_secret_access_key = ")[1].split()[0]


def test_11_the_bucket_key_reaches_its_bucket_only(dep):
    from botocore.exceptions import ClientError

    c = dep.client
    key_id, secret = mlflow_bucket_key(dep)
    with platform_dns(DOMAIN):
        root = c.s3(c.creds["minio-root-user"], c.creds["minio-root-password"])
        root.create_bucket(Bucket="other-team")
        root.put_object(Bucket="other-team", Key="private.txt", Body=b"not for mlflow")
        s3 = c.s3(key_id, secret)
        s3.put_object(Bucket="mlflow", Key="e2e/ok.txt", Body=b"ok")
        assert s3.get_object(Bucket="mlflow", Key="e2e/ok.txt")["Body"].read() == b"ok"
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["mlflow"]
        for call in (lambda: s3.create_bucket(Bucket="not-mlflow"),
                     lambda: s3.get_object(Bucket="other-team", Key="private.txt"),
                     lambda: s3.put_object(Bucket="other-team", Key="x.txt", Body=b"x")):
            with pytest.raises(ClientError):
                call()
    dep.memo["bucket_key"] = (key_id, secret)


def test_12_postgres_data_verify_full_and_plaintext_refused(dep):
    import psycopg

    c = dep.client
    with c.psql("postgres-data", "postgres", c.creds["postgres-data-superuser"]) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS e2e_rows (id int PRIMARY KEY, label text)")
        conn.execute("INSERT INTO e2e_rows VALUES (1, 'alpha'), (2, 'beta') ON CONFLICT DO NOTHING")
        conn.commit()
        assert conn.execute("SELECT label FROM e2e_rows ORDER BY id").fetchall() == [("alpha",), ("beta",)]
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError):  # the wrong name fails verification
        psycopg.connect(host=f"wrong.{DOMAIN}", hostaddr=LOOPBACK, port=54322, dbname="postgres", user="postgres",
                        password=c.creds["postgres-data-superuser"], sslmode="verify-full", sslrootcert=str(c.internal_ca)).close()
    with pytest.raises(psycopg.OperationalError, match="no encryption|reject"):
        psycopg.connect(host=LOOPBACK, port=54322, dbname="postgres", user="postgres",
                        password=c.creds["postgres-data-superuser"], sslmode="disable").close()


def test_13_postgres_service_holds_the_mlflow_database(dep):
    c = dep.client
    with c.psql("postgres-service", "postgres", c.creds["postgres-service-superuser"]) as conn:
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mlflow'").fetchone()
        assert owner == ("mlflow",)


def test_14_web_logins_accept_the_stack_credentials_only(dep):
    c = dep.client
    assert c.pgadmin_login() is True
    assert c.pgadmin_login("not-the-password") is False
    assert c.gitlab_sign_in() is True
    assert c.gitlab_sign_in("not-the-password") is False
    assert c.portainer_login() == 200
    assert c.portainer_login("not-the-password") in (401, 422)


def test_15_unknown_names_get_404_and_http_redirects_to_https(dep):
    ctx = ssl.create_default_context(cafile=str(dep.client.ca))
    ctx.check_hostname = False
    assert dep.client.https("unknown", "/", ctx=ctx)[0] == 404
    conn = __import__("http.client").client.HTTPConnection(LOOPBACK, HTTP, timeout=10)
    conn.request("GET", "/users/sign_in", headers={"Host": f"gitlab.{DOMAIN}"})
    resp = conn.getresponse()
    assert resp.status == 301 and resp.getheader("Location") == f"https://gitlab.{DOMAIN}:{HTTPS}/users/sign_in"


def test_16_the_runner_is_registered_and_verified(dep):
    name = dep.name("runner-1")
    conf = docker("exec", name, "cat", "/etc/gitlab-runner/config.toml")
    assert 'token = "glrt-' in conf and f'url = "https://gitlab.{DOMAIN}:{HTTPS}"' in conf
    docker("exec", name, "gitlab-runner", "verify", "--config", "/etc/gitlab-runner/config.toml")
    token = "glpat-" + secrets.token_hex(10)
    mint_gitlab_token(dep.name("gitlab"), token)
    dep.memo["gitlab_token"] = token
    described = {r["description"] for r in gitlab_api(dep.name("gitlab"), "/runners/all", token)}
    assert described == {f"{dep.prefix}-runner-1"}


def test_17_dev_environment_ssh_with_the_pinned_host_key_reaches_mlflow(dep):
    env = dep.client.outputs["devEnvironments"]["e2e"]
    secret = dep.client.outputs["devEnvironmentSecrets"]["e2e"]
    key = dep.workdir / "id_ed25519"
    key.write_text(secret["privateKey"])
    key.chmod(0o600)
    known = dep.workdir / "known_hosts"
    known.write_text(f"[{LOOPBACK}]:{env['sshPort']} {env['hostPublicKey']}\n")
    script = f"import mlflow; print('experiments', len(mlflow.MlflowClient('https://mlflow.{DOMAIN}:{HTTPS}').search_experiments()))"
    ssh = ["ssh", "-p", str(env["sshPort"]), "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
           "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    res = subprocess.run([*ssh, "-i", str(key), f"dev@{LOOPBACK}", "python3", "-c", json.dumps(script)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("experiments ")
    res = subprocess.run([*ssh, "-o", "PreferredAuthentications=password", f"root@{LOOPBACK}", "true"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0


def test_19_r_and_python_cells_run_through_jupyter_and_r_reads_postgres_data_over_verify_full(dep):
    c = dep.client
    out = c.jupyter_execute("rita", "python3", "import pandas, sklearn, mlflow; print('python', pandas.__version__)")
    assert out.startswith("python 3.")
    out = c.jupyter_execute("rita", "ir", (
        "suppressPackageStartupMessages({library(data.table); library(dplyr); library(plotly)})\n"
        "dt <- data.table(x = 1:4)[, y := x * 2]\n"
        "cat('r', R.version$major, sum(dt$y), nrow(filter(as.data.frame(dt), y > 4)), '\\n')"
    ))
    assert out.strip() == "r 4 20 2"
    # the rows test_12 wrote, read from R with libpq's verify-full (PGHOST, PGSSLMODE and PGSSLROOTCERT come
    # from the environment) and the TLS state as the server sees it
    password = c.creds["postgres-data-superuser"]
    out = c.jupyter_execute("rita", "ir", (
        "library(DBI)\n"
        f"con <- dbConnect(RPostgreSQL::PostgreSQL(), user = 'postgres', password = '{password}', dbname = 'postgres')\n"
        "rows <- dbGetQuery(con, 'SELECT label FROM e2e_rows ORDER BY id')\n"
        "ssl <- dbGetQuery(con, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')\n"
        "cat(paste(rows$label, collapse = ','), ssl$ssl, Sys.getenv('PGSSLMODE'), '\\n')\n"
        "invisible(dbDisconnect(con))"
    ))
    assert out.split() == ["alpha,beta", "TRUE", "verify-full"]


def instance_variables(dep) -> dict[str, dict]:
    return {v["key"]: v for v in gitlab_api(dep.name("gitlab"), "/admin/ci/variables", dep.memo["gitlab_token"])}


def runner_job(dep, tmp_path: Path, image: Optional[str], script: list[str], variables: dict[str, str], workspace: Path,
               timeout: int = 600) -> subprocess.CompletedProcess:
    """A job run as runner-1 would run it: ``image`` (None: the runner's default job image) with no entrypoint, the runner's network, volumes, extra hosts
    and job environment (config.toml), GitLab's instance variables, then the job's ``variables``; ``workspace`` is
    the checkout. Variables travel in a 0600 env file, never on a command line."""
    import tomllib

    runner = tomllib.loads(docker("exec", dep.name("runner-1"), "cat", "/etc/gitlab-runner/config.toml"))["runners"][0]
    env_file = tmp_path / "job.env"
    env_file.touch(0o600)
    env_file.write_text("".join(f"{line}\n" for line in [
        *runner["environment"],
        *(f"{k}={v['value']}" for k, v in instance_variables(dep).items()),
        *(f"{k}={v}" for k, v in variables.items()),
    ]))
    workspace.chmod(0o777)
    d = runner["docker"]
    args = ["run", "--rm", "--entrypoint", "", "--env-file", str(env_file), "--network", d["network_mode"],
            "-v", f"{workspace}:/builds/job", "-w", "/builds/job"]
    for volume in d["volumes"]:
        args += ["-v", volume]
    for extra in d.get("extra_hosts", []):
        args += ["--add-host", extra]
    return subprocess.run(["docker", *args, image or d["image"], "sh", "-c", "set -eu\n" + "\n".join(script) + "\n"],
                          capture_output=True, text=True, timeout=timeout)


def test_19b_the_example_pipeline_job_logs_to_mlflow_with_what_a_runner_job_gets(dep, tmp_path):
    """examples/mlflow-pipeline's job script, run as the runner would run it: its image (named by an instance
    variable), the runner's network, volumes and job environment, GitLab's instance variables and the job's own
    variables; then its run, metrics and artifacts are read back from MLflow."""
    import yaml

    c = dep.client
    variables = instance_variables(dep)
    assert variables["MLFLOW_TRACKING_PASSWORD"]["masked"] is True
    assert variables["MLFLOW_TRACKING_PASSWORD"]["value"] == c.creds["mlflow-password"]
    assert variables["MLFLOW_TRACKING_USERNAME"]["value"] == c.creds["mlflow-username"]
    job = yaml.safe_load((ROOT / "examples" / "mlflow-pipeline" / ".gitlab-ci.yml").read_text())["train"]
    image = job["image"]["name"].replace("$DAP_IMAGE_DEV_PYTHON", variables["DAP_IMAGE_DEV_PYTHON"]["value"])
    assert job["image"]["entrypoint"] == [""]
    workspace = tmp_path / "build"
    shutil.copytree(ROOT / "examples" / "mlflow-pipeline", workspace)
    res = runner_job(dep, tmp_path, image, job["script"], workspace=workspace,
                     variables={**job["variables"], "CI": "true", "CI_JOB_ID": "4242", "CI_COMMIT_SHA": "e2e" * 10})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert c.creds["mlflow-password"] not in res.stdout + res.stderr
    run_id = re.search(r"^run ([0-9a-f]{32}):", res.stdout, re.M).group(1)
    metrics = json.loads((workspace / "metrics.json").read_text())  # the job's artifacts: path

    import mlflow

    with pytest.MonkeyPatch.context() as mp, platform_dns(DOMAIN):
        for k, v in c.mlflow_env().items():
            mp.setenv(k, v)
        client = mlflow.MlflowClient(tracking_uri=c.url("mlflow", ""))
        run = client.get_run(run_id)
        assert client.get_experiment(run.info.experiment_id).name == "mlflow-pipeline-example"
        assert run.data.params == {"alpha": "0.05", "l1_ratio": "0.5", "model": "ElasticNet"}
        assert run.data.metrics == pytest.approx(metrics) and run.data.tags["ci_job_id"] == "4242"
        assert sorted(a.path for a in client.list_artifacts(run_id)) == ["coefficients.json", "metrics.json"]
        got = Path(client.download_artifacts(run_id, "metrics.json", str(tmp_path)))
        assert json.loads(got.read_text()) == metrics


def test_19g_the_environment_template_pushes_through_the_proxy_to_gitlabs_registry_with_gitlab_tokens(dep, tmp_path, crane):
    """environments/.gitlab-ci.yml's job script as a runner runs it, with its kaniko build swapped for a push of the
    dev-python image the platform built (kaniko is neither on the Go module proxy nor pullable here): crane pushes with
    go-containerregistry, the library kaniko pushes with, using the auth file the script writes and the platform CA
    the script tells kaniko to trust, through the TLS proxy to GitLab's registry, which takes only tokens GitLab's
    /jwt/auth signs. A read_registry token pulls but cannot push; a wrong token gets nothing."""
    import yaml

    gitlab = dep.name("gitlab")
    writer, reader = (f"glpat-{secrets.token_hex(10)}" for _ in range(2))
    mint_gitlab_token(gitlab, writer, name="e2e-registry-write", scopes=("write_registry",))
    mint_gitlab_token(gitlab, reader, name="e2e-registry-read", scopes=("read_registry",))
    script = yaml.safe_load((ROOT / "environments" / ".gitlab-ci.yml").read_text())[".kaniko"]["script"]
    (build,) = [i for i, line in enumerate(script) if line.startswith("/kaniko/executor ")]
    source = instance_variables(dep)["DAP_IMAGE_DEV_PYTHON"]["value"]
    workspace = tmp_path / "build"
    workspace.mkdir()
    shutil.copy(crane, workspace / "crane")
    docker("save", "-o", str(workspace / "image.tar"), source)
    registry = f"registry.{DOMAIN}:{HTTPS}"
    job = {"CI_REGISTRY": registry, "CI_REGISTRY_IMAGE": f"{registry}/root/environments", "CI_REGISTRY_USER": "root",
           "CI_PROJECT_DIR": "/builds/job", "CI_PROJECT_URL": f"https://gitlab.{DOMAIN}:{HTTPS}/root/environments",
           "CI_COMMIT_SHA": "e2e0cafe" * 5, "DAP_ENV_DIR": ".", "DAP_ENV_TAG": "e2e0cafe", "ENVIRONMENT": "dev-python"}
    image = f"{registry}/root/environments/dev-python:e2e0cafe"
    crane_env = 'export SSL_CERT_FILE="$DAP_CA_FILE" DOCKER_CONFIG=/kaniko/.docker'  # what --registry-certificate does
    push = [*script[:build], crane_env,
            'digest=$(./crane push image.tar "$DESTINATION")', 'printf %s "${digest#*@}" > "$CI_PROJECT_DIR/$ENVIRONMENT.digest"',
            *script[build + 1:]]

    t0 = time.monotonic()
    res = runner_job(dep, tmp_path, None, push, {**job, "CI_REGISTRY_PASSWORD": writer}, workspace)
    dep.memo["registry_push_s"] = time.monotonic() - t0
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert writer not in res.stdout + res.stderr
    digest = (workspace / "dev-python.digest").read_text()
    assert res.stdout.strip().splitlines()[-1] == f"pushed {image}@{digest}" and digest.startswith("sha256:")
    print(f"pushed {source} ({(workspace / 'image.tar').stat().st_size / 1e6:.0f} MB) in {dep.memo['registry_push_s']:.1f} s")

    pull = [*script[:build], crane_env, 'echo "digest $(./crane digest "$DESTINATION")"', './crane config "$DESTINATION" > config.json',
            'if ./crane tag "$DESTINATION" not-allowed 2>tag.err; then echo "tag: pushed"; else echo "tag: refused"; fi',
            './crane digest "$CI_REGISTRY_IMAGE/$ENVIRONMENT:not-allowed" 2>absent.err || echo "not-allowed: absent"']
    res = runner_job(dep, tmp_path, None, pull, {**job, "CI_REGISTRY_PASSWORD": reader}, workspace)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert f"digest {digest}" in res.stdout and "tag: refused" in res.stdout and "not-allowed: absent" in res.stdout
    # the registry answers 401 (the token grants pull only); crane's retry then sends no body and the proxy says 400
    assert "MANIFEST_UNKNOWN" in (workspace / "absent.err").read_text()
    pushed = json.loads((workspace / "config.json").read_text())
    local = json.loads(docker("image", "inspect", source))[0]
    assert pushed["rootfs"]["diff_ids"] == local["RootFS"]["Layers"]  # the very layers the platform built
    assert pushed["config"]["Labels"] == local["Config"]["Labels"]

    res = runner_job(dep, tmp_path, None, [*script[:build], crane_env, './crane digest "$DESTINATION"'],
                     {**job, "CI_REGISTRY_PASSWORD": "glpat-wrong0000000000000"}, workspace)
    assert res.returncode != 0 and "UNAUTHORIZED" in res.stderr and digest not in res.stdout
    dep.memo["registry_image"] = (image, digest)


@pytest.fixture(scope="module")
def browser(dep):
    missing = browser_here()
    if missing:
        pytest.fail(missing)
    b = Browser(DOMAIN, HTTPS, dep.client.ca, dep.workdir, Path(os.environ.get("DAP_SCREENSHOTS") or dep.workdir / "screenshots"))
    try:
        yield b
    finally:
        b.close()


def test_19c_browser_mlflow_behind_basic_auth_shows_the_probe_run(dep, browser):
    c = dep.client
    status, _, body = c.https("mlflow", f"/api/2.0/mlflow/runs/get?run_id={dep.memo['run_id']}", auth=c.mlflow_auth())
    assert status == 200, body
    info = json.loads(body)["run"]["info"]
    browser.basic_auth(*c.mlflow_auth())
    try:
        browser.open("mlflow", "/#/experiments")
        browser.wait_text(f"e2e-{dep.stack.name}")
        browser.open("mlflow", f"/#/experiments/{info['experiment_id']}/runs")
        browser.wait_text(info["run_name"])
        browser.shot("mlflow")
    finally:
        browser.basic_auth(None)  # (without it the proxy answers 401: test_10)


def notebook_cell_runs(browser, c, environment: str, kernel: str, display: str, code: str, expect: str) -> None:
    """A notebook with one cell, opened in Jupyter Lab (signed in with the token in the URL, as the printed link
    does), the cell run with Shift+Enter, its output read back from the page."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    token = c.outputs["devEnvironmentSecrets"][environment]["jupyterToken"]
    name = f"smoke-{kernel}.ipynb"
    notebook = {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": kernel, "display_name": display}},
        "cells": [{"cell_type": "code", "source": code, "metadata": {}, "outputs": [], "execution_count": None}],
    }
    status, _, body = c.https(f"jupyter-{environment}", f"/api/contents/{name}", method="PUT",
                              data=json.dumps({"type": "notebook", "content": notebook}).encode(),
                              headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    assert status in (200, 201), body
    # ?reset: a fresh workspace, so only this notebook is open; everything below looks at the visible panel only
    browser.open(f"jupyter-{environment}", f"/lab/tree/{name}?reset&token={token}")
    panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    # the status bar speaks of the active notebook: its kernel started and idle
    browser.wait_for(f"{name} open with the {display} kernel idle",
                     lambda: browser.css(f"{panel} .jp-Cell .cm-content") and f"{display} | Idle" in browser.text(), 120)
    editor = browser.css(f"{panel} .jp-Cell .cm-content")[0]
    editor.click()
    ActionChains(browser.driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    browser.wait_for(f"{kernel} output {expect!r}", lambda: any(expect in e.text for e in browser.css(f"{panel} .jp-OutputArea-output")), 120)
    browser.shot(f"jupyter-{kernel}")


def test_19d_browser_jupyter_lab_runs_a_notebook_cell_in_each_kernel(dep, browser):
    notebook_cell_runs(browser, dep.client, "rita", "python3", "Python 3 (ipykernel)",
                       "import pandas as pd\npd.DataFrame({'x': [1, 2, 3]}).x.sum() * 7", "42")
    notebook_cell_runs(browser, dep.client, "rita", "ir", "R", "library(data.table)\ndata.table(x = 1:3)[, sum(x) * 11]", "66")


def test_19e_browser_pgadmin_login_then_its_server_list(dep, browser):
    c = dep.client
    browser.sign_in("pgadmin", "/login", {"input[name=email]": c.creds["pgadmin-email"], "input[name=password]": c.creds["pgadmin-password"]})
    from selenium.webdriver.common.action_chains import ActionChains

    # the servers the program registered, in their group, once the explorer has loaded
    browser.wait_text(pgadmin.SERVER_GROUP, timeout=90)
    browser.wait_for("pgAdmin loaded", lambda: "Loading pgAdmin" not in browser.text(), 90)
    group = browser.xpath(f"//*[text()='{pgadmin.SERVER_GROUP}']")[0]
    ActionChains(browser.driver).double_click(group).perform()
    browser.wait_text("postgres-service (MLflow)", timeout=30)
    browser.wait_text("postgres-data", timeout=30)
    browser.shot("pgadmin")


def test_19f_browser_minio_console_login_and_gitlab_sign_in_page(dep, browser):
    c = dep.client
    browser.sign_in("minio-console", "/login", {"#accessKey": c.creds["minio-root-user"], "#secretKey": c.creds["minio-root-password"]})
    browser.wait_text("mlflow", timeout=60)
    time.sleep(1)  # the console's licence notice fades in on a first sign-in: acknowledge it, as a person would
    for button in browser.xpath("//button[contains(., 'Acknowledge')]"):
        button.click()
    browser.shot("minio-console")
    browser.open("gitlab", "/users/sign_in")
    browser.wait_text("Sign in")
    browser.shot("gitlab")


def generated_secrets(dep) -> dict[str, str]:
    c = dep.client
    values = {k: v for k, v in c.creds.items() if isinstance(v, str) and len(v) >= 16 and "@" not in v}
    values.update({f"{env}.{k}": v for env, kv in c.outputs["devEnvironmentSecrets"].items() for k, v in kv.items()})
    assert len(values) >= 10
    return values


def paths_holding(tree, needle: str, path: str = "") -> list[str]:
    if isinstance(tree, dict):
        return [p for k, v in tree.items() for p in paths_holding(v, needle, f"{path}.{k}")]
    if isinstance(tree, list):
        return [p for i, v in enumerate(tree) for p in paths_holding(v, needle, f"{path}[{i}]")]
    return [path] if isinstance(tree, str) and needle in tree else []


def test_18_no_generated_secret_in_container_environments_or_state(dep):
    values = generated_secrets(dep)
    for name in containers(dep.prefix):
        env = docker("inspect", "-f", "{{json .Config.Env}} {{json .Config.Cmd}} {{json .Config.Entrypoint}}", name)
        for key, v in values.items():
            assert v not in env, (name, key)
    # the state file itself, as the file backend stores it (the Automation API's export decrypts secrets)
    state = json.loads(dep.state_file().read_text())
    assert json.dumps(state).count('"ciphertext"') >= len(values), "secrets are stored encrypted"
    leaked = {key: paths_holding(state, v) for key, v in values.items() if paths_holding(state, v)}
    assert leaked == {}
    assert not paths_holding(state, "PRIVATE KEY")


# -- what happens to a deployment --------------------------------------------------------------------------


def test_20_refresh_then_preview_plans_no_change_and_no_replacement(dep):
    refresh = dep.stack.refresh()
    assert changes(refresh.summary.resource_changes) == {}, refresh.stdout[-4000:]
    preview = dep.stack.preview(diff=True)
    assert changes(preview.change_summary) == {}, preview.stdout[-4000:]


def test_21_every_container_restarted_is_ready_again_unattended(dep):
    names = containers(dep.prefix)
    docker("restart", "--time", "20", *names)
    dep.memo["restart_to_healthy_s"] = wait_healthy(dep.prefix, timeout=240)
    assert mlflow_artifact_text(dep, dep.memo["run_id"]) == "trained by the e2e test\n"
    assert dep.client.pgadmin_login() is True


def test_30_adding_a_runner_touches_only_the_new_runner(dep):
    dep.configure(runner_count=2)
    events = []
    up = dep.stack.up(on_event=events.append)
    created = urns_by_op(events, "create")
    assert created and all("runner-2" in u for u in created), created
    assert set(changes(up.summary.resource_changes)) == {"create"}, up.summary.resource_changes
    wait_healthy(dep.prefix, timeout=HEALTH_INTERVAL_MAX + 5)
    described = {r["description"] for r in gitlab_api(dep.name("gitlab"), "/runners/all", dep.memo["gitlab_token"])}
    assert described == {f"{dep.prefix}-runner-1", f"{dep.prefix}-runner-2"}
    dep.memo["runner2_urns"] = created


def test_31_removing_it_deletes_only_it_also_from_gitlab(dep):
    dep.configure(runner_count=1)
    events = []
    down = dep.stack.up(on_event=events.append)
    assert urns_by_op(events, "delete") == dep.memo["runner2_urns"]
    assert set(changes(down.summary.resource_changes)) == {"delete"}
    described = {r["description"] for r in gitlab_api(dep.name("gitlab"), "/runners/all", dep.memo["gitlab_token"])}
    assert described == {f"{dep.prefix}-runner-1"}


def test_70_destroy_then_up_finds_the_data_and_every_service_takes_the_new_credentials(dep, tmp_path, crane):
    from botocore.exceptions import ClientError

    old = dict(dep.client.creds)
    old_key = dep.memo["bucket_key"]
    dep.stack.destroy()
    assert containers(dep.prefix) == []
    assert docker("volume", "ls", "-q", "--filter", f"name=^{dep.prefix}-postgres-data-data$").strip()
    up = dep.stack.up()
    assert up.summary.result == "succeeded"
    dep.use(up.outputs)
    c = dep.client
    wait_healthy(dep.prefix, timeout=HEALTH_INTERVAL_MAX + 5)
    # generated anew: the retained state must accept these, and only these
    assert c.creds["postgres-data-superuser"] != old["postgres-data-superuser"]
    # the data written before
    assert mlflow_artifact_text(dep, dep.memo["run_id"]) == "trained by the e2e test\n"
    with c.psql("postgres-data", "postgres", c.creds["postgres-data-superuser"]) as conn:
        assert conn.execute("SELECT label FROM e2e_rows ORDER BY id").fetchall() == [("alpha",), ("beta",)]
    with c.psql("postgres-service", "postgres", c.creds["postgres-service-superuser"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    import psycopg

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        c.psql("postgres-data", "postgres", old["postgres-data-superuser"]).close()
    # MinIO: the new root key works; the old bucket key is gone
    with platform_dns(DOMAIN):
        root = c.s3(c.creds["minio-root-user"], c.creds["minio-root-password"])
        assert root.get_object(Bucket="other-team", Key="private.txt")["Body"].read() == b"not for mlflow"
        with pytest.raises(ClientError):
            c.s3(*old_key).list_objects_v2(Bucket="mlflow")
        with pytest.raises(ClientError):
            c.s3(old["minio-root-user"], old["minio-root-password"]).list_buckets()
    # the web logins take the new passwords and refuse the old ones
    assert c.pgadmin_login() is True and c.pgadmin_login(old["pgadmin-password"]) is False
    assert c.gitlab_sign_in() is True and c.gitlab_sign_in(old["gitlab-root-password"]) is False
    assert c.portainer_login() == 200 and c.portainer_login(old["portainer-password"]) in (401, 422)
    # GitLab kept its objects (the runner registered anew; the tests' token from before still works)
    described = {r["description"] for r in gitlab_api(dep.name("gitlab"), "/runners/all", dep.memo["gitlab_token"])}
    assert f"{dep.prefix}-runner-1" in described
    # the registry kept the image pushed in test_19g (GitLab's volume); root's new password reads it, the old one not
    image, digest = dep.memo["registry_image"]
    shutil.copy(crane, tmp_path / "crane")
    script = ['export SSL_CERT_FILE="$DAP_CA_FILE" DOCKER_CONFIG=/builds/job/.docker',
              f'printf %s "$PW" | ./crane auth login registry.{DOMAIN}:{HTTPS} -u root --password-stdin',
              f'./crane digest {image}']
    res = runner_job(dep, tmp_path, None, script, {"PW": c.creds["gitlab-root-password"]}, tmp_path)
    assert res.returncode == 0 and res.stdout.strip().splitlines()[-1] == digest, res.stderr[-2000:]
    res = runner_job(dep, tmp_path, None, script, {"PW": old["gitlab-root-password"]}, tmp_path)
    assert res.returncode != 0 and "UNAUTHORIZED" in res.stderr


def test_71_preview_after_the_rebuild_plans_nothing(dep):
    preview = dep.stack.preview(diff=True)
    assert changes(preview.change_summary) == {}, preview.stdout[-4000:]
