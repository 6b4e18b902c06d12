"""Backup and restore of a deployed stack's state (scripts/backup.py, scripts/restore.py; README: Backup and restore).

A backup is a directory `dap-backup-<stack>-<UTC time>/` (or the same files under an S3 prefix):

    manifest.json        what, when, from which stack and versions; every file with its size and SHA-256
    SHA256SUMS           the same checksums, for sha256sum -c
    postgres-service/<db>.dump, postgres-data/<db>.dump    pg_dump -Fc of every database (no role passwords)
    postgres-*/globals.sql                                 roles and their attributes, without passwords
    mlflow-bucket.tar    every object of the MLflow bucket (read with MLflow's own bucket key)
    volume-<name>.tar.gz GitLab config and data, pgAdmin data, Portainer data (each container paused meanwhile)

Consistency: each database dump is one transaction; the bucket is copied after the MLflow database, so every run
in the dump finds its artifacts; GitLab, pgAdmin and Portainer are paused while their volumes are read.

A restore goes into a freshly deployed stack (another name, same config): it first checks the whole backup against
its manifest (a missing, extra or corrupted file stops it before anything changes), then loads the databases, the
bucket and the volumes, and finally `pulumi up --replace`s the containers whose volumes it replaced, so their
provisioning steps set the new stack's credentials on the restored data (root password, tokens, logins).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dap_components.services.mlflow import BUCKET  # noqa: E402  the bucket the program makes for MLflow
FORMAT = 1
VOLUMES = [("gitlab", "config"), ("gitlab", "data"), ("pgadmin", "data"), ("portainer", "data")]  # (role, purpose)
DATABASE_SERVERS = ["postgres-service", "postgres-data"]
# Run inside the MLflow container (its boto3, its bucket key, its CA): the bucket as a tar on stdout, or back.
BUCKET_OUT = r"""
import boto3, io, os, sys, tarfile
s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[1]):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=sys.argv[1], Key=obj["Key"])["Body"].read()
            info = tarfile.TarInfo(obj["Key"]); info.size = len(body); info.mtime = obj["LastModified"].timestamp()
            tar.addfile(info, io.BytesIO(body))
"""
BUCKET_IN = r"""
import boto3, os, sys, tarfile
s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
n = 0
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
    for member in tar:
        if member.isfile():
            s3.put_object(Bucket=sys.argv[1], Key=member.name, Body=tar.extractfile(member).read()); n += 1
print(n)
"""


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what and where."""


@dataclass
class Target:
    """A deployed stack: its containers' prefix, the engine they run on, and its project directory."""

    stack: str
    project_dir: Path = ROOT
    docker_host: Optional[str] = None
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def prefix(self) -> str:
        return f"dap-{self.stack}"

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def docker(self, *args: str, stdin=None, stdout=None, check: bool = True, text: bool = True) -> subprocess.CompletedProcess:
        cmd = ["docker", *(["-H", self.docker_host] if self.docker_host else []), *args]
        res = subprocess.run(cmd, stdin=stdin, stdout=stdout if stdout is not None else subprocess.PIPE,
                             stderr=subprocess.PIPE, text=text if stdout is None else False, env=self.env)
        if check and res.returncode != 0:
            err = res.stderr if isinstance(res.stderr, str) else res.stderr.decode(errors="replace")
            raise BackupError(f"docker {' '.join(args[:3])}...: {err.strip()[-800:]}")
        return res

    def pulumi(self, *args: str) -> str:
        res = subprocess.run([str(ROOT / "scripts" / "pulumi"), "--cwd", str(self.project_dir), *args],
                             capture_output=True, text=True, env=self.env)
        if res.returncode != 0:
            raise BackupError(f"pulumi {' '.join(args[:2])}: {(res.stdout + res.stderr).strip()[-3000:]}")
        return res.stdout

    def exists(self, container: str) -> bool:
        return self.docker("inspect", "-f", "{{.Id}}", container, check=False).returncode == 0

    def volume_exists(self, volume: str) -> bool:
        return self.docker("volume", "inspect", volume, check=False).returncode == 0

    def helper_image(self) -> str:
        """An image with tar that is already on the engine: the watchdog's (any image with python3 has tar)."""
        return self.docker("inspect", "-f", "{{.Config.Image}}", self.name("watchdog")).stdout.strip()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- backup ------------------------------------------------------------------------------------------------------


def databases(t: Target, server: str) -> list[str]:
    out = t.docker("exec", "-u", "postgres", t.name(server), "psql", "-Atc",
                   "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname").stdout
    return out.split()


def dump_databases(t: Target, out: Path) -> list[dict]:
    entries = []
    for server in DATABASE_SERVERS:
        (out / server).mkdir()
        with open(out / server / "globals.sql", "wb") as f:
            t.docker("exec", "-u", "postgres", t.name(server), "pg_dumpall", "--globals-only", "--no-role-passwords", stdout=f)
        entries.append({"path": f"{server}/globals.sql", "kind": "postgres-globals", "server": server})
        for db in databases(t, server):
            with open(out / server / f"{db}.dump", "wb") as f:
                t.docker("exec", "-u", "postgres", t.name(server), "pg_dump", "-Fc", "-d", db, stdout=f)
            owner = t.docker("exec", "-u", "postgres", t.name(server), "psql", "-Atc",
                             f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}'").stdout.strip()
            entries.append({"path": f"{server}/{db}.dump", "kind": "postgres-database", "server": server, "database": db, "owner": owner})
            log(f"{server}: {db} dumped")
    return entries


def in_mlflow(t: Target, script: str, bucket: str, **io) -> subprocess.CompletedProcess:
    """``script`` with the MLflow container's Python, its bucket key and its CA (as MLflow itself reaches S3)."""
    return t.docker("exec", "-i", t.name("mlflow"), "sh", "-c",
                    'AWS_SHARED_CREDENTIALS_FILE="$DAP_INSTALL_AWS_SHARED_CREDENTIALS_FILE" exec python3 -c "$0" "$1"',
                    script, bucket, **io)


def copy_bucket(t: Target, out: Path) -> dict:
    with open(out / "mlflow-bucket.tar", "wb") as f:
        in_mlflow(t, BUCKET_OUT, BUCKET, stdout=f)
    log("mlflow bucket copied")
    return {"path": "mlflow-bucket.tar", "kind": "bucket", "bucket": BUCKET}


def archive_volumes(t: Target, out: Path) -> list[dict]:
    entries = []
    image = t.helper_image()
    for role, purpose in VOLUMES:
        volume = t.name(f"{role}-{purpose}")
        if not t.volume_exists(volume):
            continue
        container = t.name(role)
        paused = t.exists(container) and t.docker("inspect", "-f", "{{.State.Running}}", container).stdout.strip() == "true"
        if paused:
            t.docker("pause", container)
        try:
            name = f"volume-{role}-{purpose}.tar.gz"
            with open(out / name, "wb") as f:
                t.docker("run", "--rm", "--network", "none", "-v", f"{volume}:/v:ro", "--entrypoint", "tar", image,
                         "-C", "/v", "--numeric-owner", "-czf", "-", ".", stdout=f)
        finally:
            if paused:
                t.docker("unpause", container)
        entries.append({"path": name, "kind": "volume", "role": role, "purpose": purpose})
        log(f"volume {volume} archived")
    return entries


def create(t: Target, parent: Path) -> Path:
    """Write a dated backup of ``t`` under ``parent``; returns its directory."""
    for server in [*DATABASE_SERVERS, "mlflow"]:
        if not t.exists(t.name(server)):
            raise BackupError(f"{t.name(server)} not found on the engine: is stack '{t.stack}' deployed there?")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    final = parent / f"dap-backup-{t.stack}-{stamp}"
    work = parent / f".{final.name}.partial"
    work.mkdir(parents=True)
    t0 = time.monotonic()
    try:
        outputs = json.loads(t.pulumi("stack", "output", "--stack", t.stack, "--json"))
        entries = dump_databases(t, work) + [copy_bucket(t, work)] + archive_volumes(t, work)
        for e in entries:
            e["bytes"] = (work / e["path"]).stat().st_size
            e["sha256"] = sha256(work / e["path"])
        manifest = {
            "format": FORMAT, "stack": t.stack, "created": stamp, "seconds": round(time.monotonic() - t0, 1),
            "versions": outputs.get("versions", {}), "files": entries,
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        (work / "SHA256SUMS").write_text("".join(f"{e['sha256']}  {e['path']}\n" for e in entries))
        work.rename(final)  # complete or not there at all
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log(f"backup {final} ({sum(e['bytes'] for e in entries) / 1e6:.1f} MB, {len(entries)} files) in {time.monotonic() - t0:.1f} s")
    return final


# -- S3 ------------------------------------------------------------------------------------------------------------


def s3_client(endpoint: Optional[str], ca: Optional[str]):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, verify=ca if ca else True)


def split_s3(url: str) -> tuple[str, str]:
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix.strip("/")


def upload(local: Path, url: str, endpoint: Optional[str], ca: Optional[str]) -> str:
    s3 = s3_client(endpoint, ca)
    bucket, prefix = split_s3(url)
    base = f"{prefix}/{local.name}" if prefix else local.name
    files = sorted(p for p in local.rglob("*") if p.is_file())
    for p in [f for f in files if f.name != "manifest.json"] + [local / "manifest.json"]:  # manifest last: complete
        s3.upload_file(str(p), bucket, f"{base}/{p.relative_to(local)}")
    return f"s3://{bucket}/{base}"


def download(url: str, into: Path, endpoint: Optional[str], ca: Optional[str]) -> Path:
    s3 = s3_client(endpoint, ca)
    bucket, prefix = split_s3(url)
    dest = into / Path(prefix).name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            path = dest / obj["Key"][len(prefix) + 1:]
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(path))
    return dest


# -- restore -----------------------------------------------------------------------------------------------------


def verify(backup: Path) -> dict:
    """The manifest, once every file it lists is there with its size and checksum and nothing else is."""
    manifest_path = backup / "manifest.json"
    if not manifest_path.is_file():
        raise BackupError(f"{backup}: no manifest.json: not a backup, or an incomplete one")
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError as e:
        raise BackupError(f"{manifest_path}: not valid JSON ({e})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{manifest_path}: format {manifest.get('format')!r}, this tool reads format {FORMAT}")
    listed = {e["path"] for e in manifest["files"]}
    present = {str(p.relative_to(backup)) for p in backup.rglob("*") if p.is_file()} - {"manifest.json", "SHA256SUMS"}
    problems = [f"{p}: listed in the manifest, missing" for p in sorted(listed - present)]
    problems += [f"{p}: not in the manifest" for p in sorted(present - listed)]
    for e in manifest["files"]:
        p = backup / e["path"]
        if p.is_file():
            if p.stat().st_size != e["bytes"]:
                problems.append(f"{e['path']}: {p.stat().st_size} bytes, the manifest says {e['bytes']}")
            elif sha256(p) != e["sha256"]:
                problems.append(f"{e['path']}: SHA-256 differs from the manifest (corrupted)")
    if problems:
        raise BackupError(f"{backup} fails its manifest; nothing was restored:\n  " + "\n  ".join(problems))
    return manifest


def urns(t: Target, roles: list[str] = (), commands: tuple[str, ...] = ()) -> list[str]:
    """The containers of ``roles`` and the commands whose names end with one of ``commands``."""
    state = json.loads(t.pulumi("stack", "export", "--stack", t.stack))
    wanted = {t.name(r) for r in roles}
    return [r["urn"] for r in state["deployment"].get("resources", [])
            if (r["type"] == "docker:index/container:Container" and (r.get("inputs") or {}).get("name") in wanted)
            or (r["type"] == "command:local:Command" and commands and r["urn"].endswith(commands))]


def replace(t: Target, targets: list[str]) -> None:
    t.pulumi("up", "--stack", t.stack, "--yes", "--skip-preview", *[a for u in targets for a in ("--replace", u)])


def restore(t: Target, backup: Path) -> dict:
    manifest = verify(backup)  # before anything changes
    files = manifest["files"]
    for server in [*DATABASE_SERVERS, "mlflow", "watchdog"]:
        if not t.exists(t.name(server)):
            raise BackupError(f"{t.name(server)} not found: deploy stack '{t.stack}' first (pulumi up), then restore into it")
    t0 = time.monotonic()
    roles_with_volumes = sorted({e["role"] for e in files if e["kind"] == "volume" and t.volume_exists(t.name(f"{e['role']}-{e['purpose']}"))})
    t.docker("stop", t.name("watchdog"))  # it would start what is stopped here
    try:
        t.docker("stop", t.name("mlflow"))
        for e in files:
            if e["kind"] == "postgres-database":
                restore_database(t, backup, e)
        t.docker("start", t.name("mlflow"))
        wait_healthy(t, t.name("mlflow"))
        bucket = [e for e in files if e["kind"] == "bucket"]
        for e in bucket:
            with open(backup / e["path"], "rb") as f:
                in_mlflow(t, BUCKET_IN, e["bucket"], stdin=f, stdout=subprocess.PIPE)
            log("mlflow bucket restored")
        image = t.helper_image()
        for role in roles_with_volumes:
            if t.exists(t.name(role)):
                t.docker("stop", t.name(role))
        for e in files:
            if e["kind"] == "volume" and e["role"] in roles_with_volumes:
                volume = t.name(f"{e['role']}-{e['purpose']}")
                with open(backup / e["path"], "rb") as f:
                    t.docker("run", "--rm", "-i", "--network", "none", "-v", f"{volume}:/v", "--entrypoint", "sh", image, "-c",
                             "find /v -mindepth 1 -delete && tar -C /v --numeric-owner -xzf -", stdin=f, stdout=subprocess.PIPE)
                log(f"volume {volume} restored")
        for role in roles_with_volumes:
            if t.exists(t.name(role)):
                t.docker("start", t.name(role))
        wait_healthy(t, t.name("gitlab"), timeout=600)
    finally:
        t.docker("start", t.name("watchdog"), check=False)
    # The restored GitLab, pgAdmin and Portainer data hold the old stack's passwords and tokens. First GitLab's
    # bootstrap step sets this stack's root password and admin token on the restored data (every later step
    # talks to GitLab with that token); then new containers re-run their provisioning steps, and the runners
    # register anew (the restored GitLab does not know this stack's runner tokens).
    replace(t, urns(t, commands=("-gitlab-admin-token",)))
    replace(t, urns(t, [*roles_with_volumes, "mlflow"], commands=("-registration",)))
    took = round(time.monotonic() - t0, 1)
    log(f"restored {backup.name} into {t.stack} in {took} s")
    return {"seconds": took, "files": len(files), "bytes": sum(e["bytes"] for e in files)}


def restore_database(t: Target, backup: Path, e: dict) -> None:
    server, db, owner = e["server"], e["database"], e.get("owner") or "postgres"
    c = t.name(server)
    exists = t.docker("exec", "-u", "postgres", c, "psql", "-Atc", f"SELECT 1 FROM pg_database WHERE datname = '{db}'").stdout.strip() == "1"
    has_owner = t.docker("exec", "-u", "postgres", c, "psql", "-Atc", f"SELECT 1 FROM pg_roles WHERE rolname = '{owner}'").stdout.strip() == "1"
    owner = owner if has_owner else "postgres"
    if not exists:
        t.docker("exec", "-u", "postgres", c, "createdb", "-O", owner, db)
    with open(backup / e["path"], "rb") as f:
        # objects owned by the database's owner in this stack (the role the service logs in as)
        t.docker("exec", "-i", "-u", "postgres", c, "pg_restore", "-d", db, "--clean", "--if-exists", "--no-owner",
                 "--no-privileges", "--exit-on-error", f"--role={owner}", stdin=f, stdout=subprocess.PIPE)
    log(f"{server}: {db} restored (owner {owner})")


def wait_healthy(t: Target, container: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if t.docker("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", container).stdout.strip() == "healthy":
            return
        time.sleep(1)
    raise BackupError(f"{container} not healthy after {timeout:.0f} s")


# -- command lines -----------------------------------------------------------------------------------------------


def target_from(args) -> Target:
    return Target(stack=args.stack, project_dir=Path(args.project_dir).resolve(), docker_host=args.docker_host)


def common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stack", required=True, help="the deployed stack")
    p.add_argument("--project-dir", default=str(ROOT), help="the Pulumi project (default: this repository)")
    p.add_argument("--docker-host", default=os.environ.get("DOCKER_HOST"), help="the service host's engine (default: DOCKER_HOST or local)")
    p.add_argument("--s3-endpoint", default=os.environ.get("AWS_ENDPOINT_URL"), help="S3 endpoint for s3:// locations (credentials: AWS_* variables)")
    p.add_argument("--s3-ca", default=os.environ.get("AWS_CA_BUNDLE"), help="CA bundle for that endpoint")


def backup_main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/backup.py", description="Write a dated backup of a deployed stack.")
    common(p)
    p.add_argument("--to", required=True, help="a directory, or s3://bucket/prefix")
    args = p.parse_args(argv)
    try:
        if args.to.startswith("s3://"):
            with tempfile.TemporaryDirectory() as tmp:
                made = create(target_from(args), Path(tmp))
                print(upload(made, args.to, args.s3_endpoint, args.s3_ca))
        else:
            print(create(target_from(args), Path(args.to)))
    except BackupError as e:
        print(f"backup: {e}", file=sys.stderr)
        return 2
    return 0


def restore_main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/restore.py", description="Restore a backup into a freshly deployed stack.")
    common(p)
    p.add_argument("--from", dest="source", required=True, help="a backup directory, or s3://bucket/prefix/dap-backup-...")
    args = p.parse_args(argv)
    try:
        if args.source.startswith("s3://"):
            with tempfile.TemporaryDirectory() as tmp:
                result = restore(target_from(args), download(args.source.rstrip("/"), Path(tmp), args.s3_endpoint, args.s3_ca))
        else:
            result = restore(target_from(args), Path(args.source))
    except BackupError as e:
        print(f"restore: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0
