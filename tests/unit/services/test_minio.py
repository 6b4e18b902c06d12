"""services/minio.py: the S3 store, root credentials from files, and the bucket with a key scoped to it; the
provisioning script is run here against a stand-in `mc`."""

import json
import os
import subprocess

import pulumi

from tests.conftest import SECRET_MARK, leaks
from tests.unit.helpers import env, host_context, is_secret, raw_upload

from dap_components.render import SECRETS_DIR
from dap_components.services import minio
from dap_components.services.minio import API_PORT, CONSOLE_PORT, MinioStore, bucket_policy, provision_script
from dap_components.services.object_store import BucketCredentials

S3_ARN = "arn:aws:s3:::"


def test_bucket_policy_allows_that_bucket_and_its_objects_only():
    doc = json.loads(bucket_policy("mlflow"))
    resources = {r for s in doc["Statement"] for r in s["Resource"]}
    assert resources == {f"{S3_ARN}mlflow", f"{S3_ARN}mlflow/*"}
    assert all(s["Effect"] == "Allow" for s in doc["Statement"])
    actions = {a for s in doc["Statement"] for a in s["Action"]}
    assert all(a.startswith("s3:") and "*" not in a for a in actions)
    assert not actions & {"s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketPolicy", "s3:ListAllMyBuckets"}
    by_resource = {tuple(s["Resource"]): set(s["Action"]) for s in doc["Statement"]}
    assert "s3:ListBucket" in by_resource[(f"{S3_ARN}mlflow",)]
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= by_resource[(f"{S3_ARN}mlflow/*",)]
    assert json.loads(bucket_policy("other"))["Statement"][0]["Resource"] == [f"{S3_ARN}other"]


FAKE_MC = """#!/bin/sh
# like mc's CLI parser: an argument that begins with "-" anywhere before `--` must be a flag it knows
seen_end=0
for a in "$@"; do
  [ "$a" = "--" ] && seen_end=1
  case "$seen_end:$a" in
    0:--ignore-existing|0:--json|0:--user=*|0:--|1:*) ;;
    0:-*) echo "mc: <ERROR> Invalid command usage, flag provided but not defined: $a" >&2; exit 1 ;;
  esac
done
printf '%s\\n' "$*" >> "$LOG"
printf '%s\\n' "$MC_HOST_local" >> "$LOG.hosts"
case "$*" in
  "admin policy create"*) cp "$6" "$LOG.policy" ;;
  "admin user list local --json") cat "$USERS" ;;
  "admin user info -- local "*) printf 'AccessKey: %s\\nPolicyName: mlflow-rw\\n' "$6" ;;
esac
"""


def run_provision(tmp_path, users, key="NEWKEY", secret="NEWSECRET"):
    """provision_script("mlflow") with an `mc` that records its calls; the container's files are under tmp_path."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "minio_root_user").write_text("ROOTUSER\n")
    (tmp_path / "secrets" / "minio_root_password").write_text("ROOTPW\n")
    mc = tmp_path / "bin" / "mc"
    mc.write_text(FAKE_MC)
    mc.chmod(0o755)
    (tmp_path / "users").write_text("".join(json.dumps(u, separators=(",", ":")) + "\n" for u in users))
    script = provision_script("mlflow")
    assert script.count("/tmp/dap-policy.json") == 3  # written, used, removed
    assert SECRETS_DIR in script
    script = script.replace("/tmp/dap-policy.json", str(tmp_path / "policy.json")).replace(SECRETS_DIR, str(tmp_path / "secrets"))
    log = tmp_path / "log"
    res = subprocess.run(
        ["/bin/sh", "-c", script], input=f"{key}\n{secret}\n", capture_output=True, text=True,
        env={"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "LOG": str(log), "USERS": str(tmp_path / "users")},
    )
    assert res.returncode == 0, res.stderr
    return log.read_text().splitlines(), (tmp_path / "log.policy").read_text(), res.stdout, tmp_path


def test_provisioning_makes_the_bucket_the_policy_and_the_key(tmp_path):
    calls, policy, out, tmp = run_provision(tmp_path, [])
    assert calls[:2] == ["ready local", "mb --ignore-existing local/mlflow"]
    assert json.loads(policy) == json.loads(bucket_policy("mlflow"))  # survives the shell quoting intact
    assert "admin user add -- local NEWKEY NEWSECRET" in calls
    assert "admin policy attach local mlflow-rw --user=NEWKEY" in calls
    assert calls[-1] == "admin user info -- local NEWKEY"
    assert not (tmp / "policy.json").exists()  # removed after use
    # every call authenticated as root, with the credentials read from the container's files
    assert set((tmp / "log.hosts").read_text().splitlines()) == {f"http://ROOTUSER:ROOTPW@127.0.0.1:{API_PORT}"}
    assert "bucket mlflow ready" in out and "NEWSECRET" not in out


def test_provisioning_removes_the_buckets_older_keys_only(tmp_path):
    users = [
        {"status": "success", "accessKey": "OLDKEY", "policyName": "mlflow-rw", "userStatus": "enabled"},
        {"status": "success", "accessKey": "NEWKEY", "policyName": "mlflow-rw", "userStatus": "enabled"},
        {"status": "success", "accessKey": "OTHERBUCKET", "policyName": "other-rw", "userStatus": "enabled"},
    ]
    calls, _, _, _ = run_provision(tmp_path, users)
    removed = [c.rsplit(" ", 1)[1] for c in calls if c.startswith("admin user remove")]
    assert removed == ["OLDKEY"]


def test_keys_that_begin_with_a_dash_are_not_taken_for_flags(tmp_path):
    # generated keys may begin with "-" (the alphabet has - and _): mc once refused one as an unknown flag
    calls, _, _, _ = run_provision(tmp_path, [], key="-dashkey", secret="-dashsecret")
    assert "admin user add -- local -dashkey -dashsecret" in calls and calls[-1] == "admin user info -- local -dashkey"


def test_provisioning_script_carries_no_secret():
    script = provision_script("mlflow")
    assert "read -r access_key\nread -r secret_key\n" in script  # from stdin
    assert "minio_root_user" in script and "minio_root_password" in script  # root credentials from the container's files
    assert SECRET_MARK not in script


def store(program, **config):
    def fn():
        ctx = host_context(name="svc", prefix="dap-t", **config)
        s = MinioStore(ctx)
        b = s.bucket_with_key("mlflow")
        return {"store": s, "bucket": b, "key_id": b.access_key_id, "key_secret": b.secret_access_key,
                "urls": pulumi.Output.from_input(s.service.urls)}

    return program(fn)


def test_root_credentials_come_from_files(program):
    run = store(program)
    c = run.named("svc-minio")
    assert env(c, "MINIO_ROOT_USER_FILE") == "/run/secrets/dap/minio_root_user"
    assert env(c, "MINIO_ROOT_PASSWORD_FILE") == "/run/secrets/dap/minio_root_password"
    assert env(c, "MINIO_ROOT_USER") is None and env(c, "MINIO_ROOT_PASSWORD") is None
    for f in ("minio_root_user", "minio_root_password"):
        up = raw_upload(c, f"/run/secrets/dap/{f}")
        assert up["permissions"] == "0400" and is_secret(up["content"])
    assert leaks(c.raw) == []
    assert env(c, "MINIO_BROWSER_REDIRECT_URL") == "https://minio-console.dap.example.test"
    assert c.inputs["command"] == ["server", "/data", "--address", f":{API_PORT}", "--console-address", f":{CONSOLE_PORT}"]
    assert c.inputs["networksAdvanced"] == [{"name": "dap-t-storage", "aliases": ["minio"]}]
    assert [(v["volumeName"], v["containerPath"]) for v in c.inputs["volumes"]] == [("dap-t-minio-data", "/data")]


def test_routes_urls_and_credentials(program):
    run = store(program)
    s = run.objects["store"]
    s3, console = s.service.http_routes
    assert (s3.hostname, s3.upstream, s3.host_header, s3.buffering, s3.max_body_size) == (
        "s3.dap.example.test", f"minio:{API_PORT}", "$http_host", False, "0")  # SigV4 signs host:port
    assert (console.hostname, console.upstream) == ("minio-console.dap.example.test", f"minio:{CONSOLE_PORT}")
    assert s.endpoint == "https://s3.dap.example.test"
    assert run.outputs["urls"] == ({"s3": s.endpoint, "minio-console": "https://minio-console.dap.example.test"}, False)
    assert set(s.service.credentials) == {"minio-root-user", "minio-root-password"}


def test_endpoint_keeps_a_non_default_port(program):
    assert store(program, serviceHost={"httpsPort": 8443}).objects["store"].endpoint == "https://s3.dap.example.test:8443"


def test_bucket_with_key(program):
    run = store(program)
    b = run.objects["bucket"]
    assert isinstance(b, BucketCredentials) and b.bucket == "mlflow"
    assert run.outputs["key_id"][1] is True and run.outputs["key_secret"][1] is True
    assert run.named("svc-minio-mlflow-access-key").inputs["length"] == 20
    assert run.named("svc-minio-mlflow-secret-key").inputs["length"] == 40
    step = run.named("svc-minio-mlflow-bucket")
    assert b.ready is not None and step.inputs["create"].startswith("docker exec -i dap-t-minio ")
    # the key's id and secret on stdin, as a secret, in the order the script reads them
    assert is_secret(step.raw["stdin"])
    assert step.inputs["stdin"] == f"{run.outputs['key_id'][0]}\n{run.outputs['key_secret'][0]}\n"
    assert leaks(step.raw) == []
    assert step.inputs["triggers"] == ["svc-minio_id"] and run.named("svc-minio-ready").urn in step.depends_on


def test_module_constants():
    assert (minio.API_PORT, minio.CONSOLE_PORT, minio.ALIAS) == (9000, 9001, "minio")


def test_bucket_key_is_scoped_to_the_bucket(deploy):
    d = deploy(runnerCount=0)
    step = d.named("service-minio-mlflow-bucket")
    create = step.inputs["create"]
    assert "mc mb --ignore-existing local/mlflow" in create
    assert '"arn:aws:s3:::mlflow"' in create and '"arn:aws:s3:::mlflow/*"' in create
    assert "arn:aws:s3:::*" not in create
    assert step.inputs["environment"] == {"DOCKER_HOST": "unix:///var/run/docker.sock"}
