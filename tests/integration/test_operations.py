"""The ci stack's shape deployed for real, then put through what happens to a machine and to a platform in use:
every service container killed, the Docker daemon stopped and started, a stateful container removed behind
Pulumi's back, one service's image changed, and load through the proxy. Each checks that the platform is healthy
again and that what was written before (an MLflow run with its artifact, postgres-data rows, a GitLab token) is
still there, and records how long it took: the figures printed here are the README's.

The tests run in file order against one deployment (module fixture)."""

from __future__ import annotations

import concurrent.futures
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

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
from .conftest import ROOT, ci_config, make_stack, offline_images, write_stack_config

pytestmark = pytest.mark.integration

DOMAIN = "dap-ops.test"
HTTPS, HTTP = 19443, 19080
FIGURES: dict[str, str] = {}  # printed at the end of the module: the README's "when things go wrong" figures


def ops_config(**images: str) -> dict:
    cfg = ci_config()
    return {
        **cfg,
        "domain": DOMAIN,
        "serviceHost": {"publishAddress": LOOPBACK, "httpsPort": HTTPS, "httpPort": HTTP},
        "portainer": {"enabled": True},
        "runnerCount": 1,
        "devEnvironments": [{"name": "ops"}],
        "images": {**cfg["images"], **images},
    }


class Ops:
    def __init__(self, stack, project_dir: Path, workdir: Path):
        self.stack, self.project_dir, self.workdir = stack, project_dir, workdir
        self.prefix = f"dap-{stack.name}"
        self.memo: dict = {}
        self.client: PlatformClient

    def use(self, outputs) -> None:
        self.client = PlatformClient(DOMAIN, HTTPS, {k: v.value for k, v in outputs.items()}, self.workdir)

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def services(self) -> list[str]:
        return [n for n in containers(self.prefix) if n != self.name("watchdog")]


@pytest.fixture(scope="module")
def ops(project_dir, pulumi_env, tmp_path_factory):
    stack = make_stack(project_dir, pulumi_env, ops_config(), prefix="ops")
    o = Ops(stack, project_dir, tmp_path_factory.mktemp("ops"))
    o.memo["pulumi_env"] = pulumi_env
    try:
        up = stack.up(on_output=print)
        assert up.summary.result == "succeeded"
        o.use(up.outputs)
        yield o
    finally:
        print("\n== figures (README: when things go wrong)\n" + "\n".join(f"{k}: {v}" for k, v in FIGURES.items()))
        try:
            stack.destroy(on_output=print)
        finally:
            stack.workspace.remove_stack(stack.name, force=True)
            remove_volumes(o.prefix)
            for tag in docker("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "label=org.dap-ops.upgrade-test", check=False).split():
                docker("rmi", "-f", tag, check=False)


def mlflow_client(c: PlatformClient, mp: pytest.MonkeyPatch):
    import mlflow

    for k, v in c.mlflow_env().items():
        mp.setenv(k, v)
    return mlflow.MlflowClient(tracking_uri=c.url("mlflow", ""))


def assert_data_intact(o: Ops, exact_runners: bool = True) -> None:
    """What test_01 wrote is all there, read through the proxy with the stack's credentials."""
    c = o.client
    with pytest.MonkeyPatch.context() as mp, platform_dns(DOMAIN):
        client = mlflow_client(c, mp)
        run = client.get_run(o.memo["run_id"])
        assert run.data.metrics == {"loss": 0.25}
        out = o.workdir / f"download-{uuid.uuid4().hex[:6]}"
        out.mkdir()
        assert Path(client.download_artifacts(o.memo["run_id"], "note.txt", str(out))).read_text() == o.memo["note"]
    with c.psql("postgres-data", "postgres", c.creds["postgres-data-superuser"]) as conn:
        assert conn.execute("SELECT count(*), sum(v) FROM ops_rows").fetchone() == (1000, 500500)
    assert gitlab_api(o.name("gitlab"), "/user", o.memo["gitlab_token"])["username"] == "root"
    listed = [r["description"] for r in gitlab_api(o.name("gitlab"), "/runners/all", o.memo["gitlab_token"])]
    assert listed == [o.name("runner-1")] if exact_runners else o.name("runner-1") in listed, listed


def time_to_healthy(prefix: str, names: list[str], since: float, timeout: float = 300) -> dict[str, float]:
    """Seconds from ``since`` until each of ``names`` (containers of ``prefix``) is running and healthy (polled
    every 0.5 s)."""
    done: dict[str, float] = {}
    states: dict[str, str] = {}
    while len(done) < len(names):
        assert time.monotonic() - since < timeout, f"not healthy after {timeout} s: {states}"
        states = {n: s for n, s in health(prefix).items() if n in names}
        for n, s in states.items():
            if s == "running/healthy" and n not in done:
                done[n] = time.monotonic() - since
        time.sleep(0.5)
    return done


def test_01_write_data_through_the_proxy(ops):
    c = ops.client
    wait_healthy(ops.prefix, timeout=120)
    ops.memo["note"] = f"written before the faults {uuid.uuid4().hex}\n"
    note = ops.workdir / "note.txt"
    note.write_text(ops.memo["note"])
    with pytest.MonkeyPatch.context() as mp, platform_dns(DOMAIN):
        client = mlflow_client(c, mp)
        run = client.create_run(client.create_experiment("ops"))
        client.log_metric(run.info.run_id, "loss", 0.25)
        client.log_artifact(run.info.run_id, str(note))
        client.set_terminated(run.info.run_id)
    ops.memo["run_id"] = run.info.run_id
    with c.psql("postgres-data", "postgres", c.creds["postgres-data-superuser"]) as conn:
        conn.execute("CREATE TABLE ops_rows (id int PRIMARY KEY, v int)")
        conn.execute("INSERT INTO ops_rows SELECT g, g FROM generate_series(1, 1000) g")
        conn.commit()
    ops.memo["gitlab_token"] = token = f"glpat-{secrets.token_hex(10)}"
    mint_gitlab_token(ops.name("gitlab"), token, name="ops-tests")
    assert_data_intact(ops)


# -- faults ----------------------------------------------------------------------------------------------------


def test_10_every_service_container_killed_is_healthy_again_unattended_with_the_data(ops):
    names = ops.services()
    assert len(names) == 10, names
    t0 = time.monotonic()
    docker("kill", *names)
    times = time_to_healthy(ops.prefix, names, t0)
    assert "was exited" in docker("logs", ops.name("watchdog"))  # the watchdog started them: Docker does not
    assert_data_intact(ops)
    FIGURES["docker kill of all 10 service containers: each healthy again after (s)"] = json.dumps(
        {n.removeprefix(ops.prefix + "-"): round(t, 1) for n, t in sorted(times.items(), key=lambda x: x[1])})
    FIGURES["docker kill: all healthy after (s)"] = f"{max(times.values()):.1f}"


def dockerd_pid() -> int:
    return int(Path("/var/run/docker.pid").read_text().strip())


def test_11_the_docker_daemon_stopped_and_started_comes_back_healthy_by_itself(ops):
    pid = dockerd_pid()
    t_stop = time.monotonic()
    os.kill(pid, signal.SIGTERM)  # what `systemctl stop docker` does
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() - t_stop < 120, "dockerd did not stop"
        time.sleep(0.2)
    stopped = time.monotonic() - t_stop
    t_start = time.monotonic()
    subprocess.run([str(ROOT / "scripts" / "docker-engine.sh")], check=True, timeout=120)
    engine = time.monotonic() - t_start
    t0 = time.monotonic()
    names = containers(ops.prefix)
    times = time_to_healthy(ops.prefix, names, t0)
    assert_data_intact(ops)
    FIGURES["dockerd SIGTERM: stopped after (s)"] = f"{stopped:.1f}"
    FIGURES["dockerd start: engine answering after (s)"] = f"{engine:.1f}"
    FIGURES["dockerd restart: all 11 containers healthy after engine start (s)"] = f"{max(times.values()):.1f}"


def test_12_a_stateful_container_removed_behind_pulumis_back_comes_back_on_its_volume_with_up_refresh(ops):
    removed = [ops.name("postgres-data"), ops.name("gitlab")]
    docker("rm", "-f", *removed)
    time.sleep(5)
    assert set(removed).isdisjoint(containers(ops.prefix))  # the watchdog cannot bring back what is gone
    t0 = time.monotonic()
    up = ops.stack.up(refresh=True, on_output=print)
    took = time.monotonic() - t0
    assert up.summary.result == "succeeded"
    assert up.summary.resource_changes.get("create", 0) >= 2
    assert set(removed) <= set(containers(ops.prefix))
    ops.use(up.outputs)
    wait_healthy(ops.prefix, timeout=120)
    assert_data_intact(ops)
    FIGURES["postgres-data + gitlab removed, `pulumi up --refresh` until healthy (s)"] = f"{took:.1f}"


# -- upgrades ---------------------------------------------------------------------------------------------------


def test_20_one_services_new_image_replaces_only_that_container_and_keeps_its_data(ops):
    """Two tags of one offline image: the MinIO image, and a rebuild of it with one more label (another image id)."""
    current = offline_images()["minio"]
    upgraded = f"{current.rsplit(':', 1)[0]}:{current.rsplit(':', 1)[1]}-ops"
    build = subprocess.run(["docker", "build", "-q", "-t", upgraded, "--label", "org.dap-ops.upgrade-test=1", "-"],
                           input=f"FROM {current}\nLABEL org.dap-ops.upgrade-test=1\n", capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    write_stack_config(ops.project_dir, ops.stack.name, ops_config(minio=upgraded))
    events: list = []
    preview = ops.stack.preview(on_event=events.append)
    steps = [e.resource_pre_event.metadata for e in events if e.resource_pre_event is not None]
    changed = {m.urn.rsplit("::", 1)[1]: m.op.value for m in steps if m.op.value != "same"}
    replaced_containers = [m.urn for m in steps if m.type == "docker:index/container:Container" and m.op.value in ("replace", "create-replacement", "delete-replaced")]
    assert changed and all(name.startswith("service-minio") for name in changed), changed
    assert {u.rsplit("::", 1)[1] for u in replaced_containers} == {"service-minio"}, preview.stdout[-3000:]
    old_id = docker("inspect", "-f", "{{.Id}}", ops.name("minio")).strip()
    t0 = time.monotonic()
    up = ops.stack.up(on_output=print)
    took = time.monotonic() - t0
    assert up.summary.result == "succeeded"
    assert docker("inspect", "-f", "{{.Id}}", ops.name("minio")).strip() != old_id
    assert docker("inspect", "-f", "{{index .Config.Labels \"org.dap-ops.upgrade-test\"}}", ops.name("minio")).strip() == "1"
    wait_healthy(ops.prefix, timeout=120)
    assert_data_intact(ops)  # the artifact lives in MinIO's retained volume
    FIGURES["minio image change: `pulumi up` until done (s)"] = f"{took:.1f}"
    FIGURES["minio image change: planned changes"] = json.dumps(changed)


# -- load -------------------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def test_30_twenty_mlflow_clients_at_once_log_metrics_and_artifacts_without_error(ops):
    c = ops.client
    clients, metrics = 20, 50
    latencies: list[float] = []
    errors: list[str] = []
    artifact = ops.workdir / "load.txt"
    artifact.write_text("load test artifact\n")

    def one(i: int, experiment: str) -> str:
        import mlflow

        client = mlflow.MlflowClient(tracking_uri=c.url("mlflow", ""))  # one client each, as 20 users would have
        run = client.create_run(experiment, run_name=f"load-{i}")
        for m in range(metrics):
            t = time.monotonic()
            client.log_metric(run.info.run_id, "m", float(m), step=m)
            latencies.append(time.monotonic() - t)
        t = time.monotonic()
        client.log_artifact(run.info.run_id, str(artifact))
        latencies.append(time.monotonic() - t)
        client.set_terminated(run.info.run_id)
        return run.info.run_id

    with pytest.MonkeyPatch.context() as mp, platform_dns(DOMAIN):
        client = mlflow_client(c, mp)
        experiment = client.create_experiment(f"load-{uuid.uuid4().hex[:6]}")
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(one, i, experiment) for i in range(clients)]
            run_ids = []
            for f in futures:
                try:
                    run_ids.append(f.result(timeout=300))
                except Exception as e:  # counted, then asserted to be none
                    errors.append(f"{type(e).__name__}: {e}")
        took = time.monotonic() - t0
        assert errors == [] and len(run_ids) == clients
        for run_id in run_ids[:3]:
            assert len(client.get_metric_history(run_id, "m")) == metrics
    assert took < 240, took
    FIGURES["20 MLflow clients x (50 metrics + 1 artifact), all at once"] = (
        f"{took:.1f} s, {len(latencies)} calls, 0 errors, p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")


def test_31_ten_psql_sessions_at_once_over_verify_full(ops):
    c = ops.client
    durations: list[float] = []

    def session(i: int) -> int:
        t = time.monotonic()
        with c.psql("postgres-data", "postgres", c.creds["postgres-data-superuser"]) as conn:
            assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
            total = sum(conn.execute("SELECT sum(v) FROM ops_rows WHERE id %% 10 = %s", (i,)).fetchone()[0] for _ in range(20))
        durations.append(time.monotonic() - t)
        return total

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        totals = list(pool.map(session, range(10)))
    took = time.monotonic() - t0
    assert sum(totals) == 20 * 500500
    FIGURES["10 psql sessions at once (verify-full), 20 queries each"] = (
        f"{took:.2f} s, session p50 {statistics.median(durations) * 1000:.0f} ms, max {max(durations) * 1000:.0f} ms")


def test_32_a_100_mb_artifact_goes_up_and_comes_back_intact(ops):
    import hashlib

    c = ops.client
    big = ops.workdir / "big.bin"
    with open(big, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1 << 20))
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    with pytest.MonkeyPatch.context() as mp, platform_dns(DOMAIN):
        client = mlflow_client(c, mp)
        run = client.create_run(client.create_experiment(f"big-{uuid.uuid4().hex[:6]}"))
        t0 = time.monotonic()
        client.log_artifact(run.info.run_id, str(big))
        up_s = time.monotonic() - t0
        out = ops.workdir / "big-back"
        out.mkdir()
        t0 = time.monotonic()
        back = Path(client.download_artifacts(run.info.run_id, "big.bin", str(out)))
        down_s = time.monotonic() - t0
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest
    FIGURES["100 MB artifact through the proxy"] = f"upload {up_s:.1f} s ({100 / up_s:.0f} MB/s), download {down_s:.1f} s ({100 / down_s:.0f} MB/s)"


# -- credential rotation ------------------------------------------------------------------------------------------


def test_35_a_rotation_gives_every_service_new_credentials_and_the_old_ones_stop_working(ops):
    import psycopg

    old = dict(ops.client.creds)
    old_token = ops.client.outputs["devEnvironmentSecrets"]["ops"]["jupyterToken"]
    write_stack_config(ops.project_dir, ops.stack.name, {**ops_config(), "rotation": 1})
    t0 = time.monotonic()
    up = ops.stack.up(on_output=print)
    took = time.monotonic() - t0
    assert up.summary.result == "succeeded"
    ops.use(up.outputs)
    c = ops.client
    healthy = wait_healthy(ops.prefix, timeout=180)
    rotated = [k for k in old if k.endswith(("password", "superuser", "user")) and not k.endswith("username")]
    assert rotated and all(c.creds[k] != old[k] for k in rotated), rotated
    # new ones in, old ones out
    assert c.https("mlflow", "/api/2.0/mlflow/experiments/search?max_results=1", auth=c.mlflow_auth())[0] == 200
    assert c.https("mlflow", "/api/2.0/mlflow/experiments/search?max_results=1", auth=("mlflow", old["mlflow-password"]))[0] == 401
    for role, key in (("postgres-data", "postgres-data-superuser"), ("postgres-service", "postgres-service-superuser")):
        c.psql(role, "postgres", c.creds[key]).close()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            c.psql(role, "postgres", old[key]).close()
    with platform_dns(DOMAIN):
        c.s3(c.creds["minio-root-user"], c.creds["minio-root-password"]).list_buckets()
        with pytest.raises(Exception):
            c.s3(old["minio-root-user"], old["minio-root-password"]).list_buckets()
    assert c.gitlab_sign_in() is True and c.gitlab_sign_in(old["gitlab-root-password"]) is False
    assert c.pgadmin_login() is True and c.pgadmin_login(old["pgadmin-password"]) is False
    assert c.portainer_login() == 200 and c.portainer_login(old["portainer-password"]) in (401, 422)
    token = c.outputs["devEnvironmentSecrets"]["ops"]["jupyterToken"]
    assert token != old_token
    assert c.https("jupyter-ops", f"/api/status?token={token}")[0] == 200
    assert c.https("jupyter-ops", f"/api/status?token={old_token}")[0] in (401, 403)
    docker("exec", ops.name("runner-1"), "gitlab-runner", "verify", "--config", "/etc/gitlab-runner/config.toml")
    assert_data_intact(ops)
    FIGURES["rotation 0 -> 1: `pulumi up`, then all healthy"] = f"{took:.1f} s + {healthy:.1f} s"


def test_40_healthy_at_the_end(ops):
    wait_healthy(ops.prefix, timeout=120)
    assert set(health(ops.prefix).values()) == {"running/healthy"}


# -- backup and restore -----------------------------------------------------------------------------------------


def backup_target(o: Ops):
    sys.path.insert(0, str(ROOT / "scripts"))
    import dapbackup

    return dapbackup, dapbackup.Target(stack=o.stack.name, project_dir=o.project_dir, env={**os.environ, **o.memo["pulumi_env"]})


def test_50_a_dated_backup_with_manifest_to_a_directory_and_to_s3(ops, tmp_path_factory, monkeypatch):
    dapbackup, target = backup_target(ops)
    t0 = time.monotonic()
    made = dapbackup.create(target, tmp_path_factory.mktemp("backups"))
    took = time.monotonic() - t0
    manifest = json.loads((made / "manifest.json").read_text())
    assert made.name.startswith(f"dap-backup-{ops.stack.name}-20") and manifest["stack"] == ops.stack.name
    kinds = sorted((e["kind"], e["path"]) for e in manifest["files"])
    assert ("bucket", "mlflow-bucket.tar") in kinds and ("postgres-database", "postgres-data/postgres.dump") in kinds
    assert ("postgres-database", "postgres-service/mlflow.dump") in kinds
    assert {p for k, p in kinds if k == "volume"} == {"volume-gitlab-config.tar.gz", "volume-gitlab-data.tar.gz",
                                                     "volume-pgadmin-data.tar.gz", "volume-portainer-data.tar.gz"}
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=made, capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    assert dapbackup.verify(made)["stack"] == ops.stack.name
    size = sum(e["bytes"] for e in manifest["files"])
    # the same backup to an S3 bucket (this platform's MinIO through the proxy) and back
    c = ops.client
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", c.creds["minio-root-user"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", c.creds["minio-root-password"])
    with platform_dns(DOMAIN):
        c.s3(c.creds["minio-root-user"], c.creds["minio-root-password"]).create_bucket(Bucket="dap-backups")
        t1 = time.monotonic()
        url = dapbackup.upload(made, "s3://dap-backups/nightly", c.url("s3", ""), str(c.ca))
        back = dapbackup.download(url, tmp_path_factory.mktemp("from-s3"), c.url("s3", ""), str(c.ca))
        s3_took = time.monotonic() - t1
    assert url == f"s3://dap-backups/nightly/{made.name}"
    assert dapbackup.verify(back) == manifest
    ops.memo["backup"] = back
    FIGURES["backup (scripts/backup.py) of the ops stack"] = f"{took:.1f} s, {size / 1e6:.1f} MB in {len(manifest['files'])} files"
    FIGURES["backup to S3 and back (through the proxy)"] = f"{s3_took:.1f} s"


def test_51_a_corrupted_or_partial_backup_is_refused_before_anything_changes(ops, tmp_path):
    import shutil

    dapbackup, target = backup_target(ops)
    before = docker("inspect", "-f", "{{.Id}} {{.State.StartedAt}}", *containers(ops.prefix))
    corrupted = tmp_path / "corrupted"
    shutil.copytree(ops.memo["backup"], corrupted)
    dump = corrupted / "postgres-data" / "postgres.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    partial = tmp_path / "partial"
    shutil.copytree(ops.memo["backup"], partial)
    (partial / "mlflow-bucket.tar").unlink()
    for backup, expected in ((corrupted, "postgres-data/postgres.dump: SHA-256 differs from the manifest (corrupted)"),
                             (partial, "mlflow-bucket.tar: listed in the manifest, missing")):
        with pytest.raises(dapbackup.BackupError) as exc:
            dapbackup.restore(target, backup)
        assert expected in str(exc.value) and "nothing was restored" in str(exc.value)
        res = subprocess.run([sys.executable, str(ROOT / "scripts" / "restore.py"), "--stack", ops.stack.name,
                              "--project-dir", str(ops.project_dir), "--from", str(backup)],
                             capture_output=True, text=True, env=target.env)
        assert res.returncode == 2 and expected in res.stderr
    assert docker("inspect", "-f", "{{.Id}} {{.State.StartedAt}}", *containers(ops.prefix)) == before
    assert_data_intact(ops)


def test_52_restore_into_a_fresh_stack_finds_the_run_the_rows_and_gitlabs_data(ops, project_dir, pulumi_env, tmp_path_factory):
    """Same config, another stack name; the original is destroyed first (its ports are the same)."""
    dapbackup, _ = backup_target(ops)
    ops.stack.destroy(on_output=print)
    fresh = make_stack(project_dir, pulumi_env, ops_config(), prefix="opsr")
    r = Ops(fresh, project_dir, tmp_path_factory.mktemp("opsr"))
    r.memo.update({k: ops.memo[k] for k in ("run_id", "note", "gitlab_token", "pulumi_env")})
    try:
        up = fresh.up(on_output=print)
        assert up.summary.result == "succeeded"
        r.use(up.outputs)
        target = dapbackup.Target(stack=fresh.name, project_dir=project_dir, env={**os.environ, **pulumi_env})
        result = dapbackup.restore(target, ops.memo["backup"])
        wait_healthy(r.prefix, timeout=180)
        # GitLab's data came back (the tests' token too); this stack's runner registered anew in it
        assert_data_intact(r, exact_runners=False)
        docker("exec", r.name("runner-1"), "gitlab-runner", "verify", "--config", "/etc/gitlab-runner/config.toml")
        # this stack's credentials work on the restored data, the old stack's do not
        assert r.client.gitlab_sign_in() is True and r.client.gitlab_sign_in(ops.client.creds["gitlab-root-password"]) is False
        assert r.client.pgadmin_login() is True
        assert r.client.portainer_login() == 200
        FIGURES["restore (scripts/restore.py) into a fresh stack, then healthy"] = f"{result['seconds']:.1f} s, {result['bytes'] / 1e6:.1f} MB"
    finally:
        fresh.destroy(on_output=print)
        fresh.workspace.remove_stack(fresh.name, force=True)
        remove_volumes(r.prefix)
