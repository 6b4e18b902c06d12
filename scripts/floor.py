"""The bench's floor: the same networks, volumes, containers and provisioning commands a deployment holds, with
the same images and configuration, replayed with the plain docker CLI in the same dependency order (each as
soon as what it depends on is done), every container polled for readiness every 0.5 s. It is what the engine
and the services need, with no orchestration cost; `pulumi up` is measured against it.

The input is a deployment exported from a stack (`stack.export_stack()`, secrets in plain text) of a
deployment made on this engine; replay() recreates it from nothing (images present) and teardown() removes it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

SECRET_SIG = "4dabf18193072939515e22adb298388d"
POLL = 0.5

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
COMMAND = "command:local:Command"
KINDS = {CONTAINER, NETWORK, VOLUME, COMMAND}


def plain(value: Any) -> Any:
    """Exported values with secrets decrypted: {sig, plaintext: <json>} -> the value."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return plain(json.loads(value["plaintext"])) if "plaintext" in value else plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def docker(*args: str, stdin: bytes | None = None) -> str:
    res = subprocess.run(["docker", *args], input=stdin, capture_output=True)
    if res.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}: {res.stderr.decode(errors='replace').strip()}")
    return res.stdout.decode()


def create_args(p: dict[str, Any]) -> list[str]:
    """`docker create` flags for a pulumi-docker Container's inputs."""
    a = ["create", "--name", p["name"]]
    if p.get("restart"):
        a += ["--restart", p["restart"]]
    if p.get("user"):
        a += ["--user", p["user"]]
    for e in p.get("envs") or []:
        a += ["--env", e]
    for lab in p.get("labels") or []:
        a += ["--label", f"{lab['label']}={lab['value']}"]
    if p.get("logDriver"):
        a += ["--log-driver", p["logDriver"]]
    for k, v in (p.get("logOpts") or {}).items():
        a += ["--log-opt", f"{k}={v}"]
    hc = p.get("healthcheck")
    if hc:
        test = hc["tests"]
        if test[0] == "CMD-SHELL":
            a += ["--health-cmd", test[1]]
        else:  # CMD: docker run only takes a shell form; the exec form is kept by quoting each argument
            a += ["--health-cmd", " ".join(_sh(t) for t in test[1:])]
        for flag, key in (("--health-interval", "interval"), ("--health-timeout", "timeout"),
                          ("--health-start-period", "startPeriod")):
            if hc.get(key):
                a += [flag, hc[key]]
        if hc.get("retries"):
            a += ["--health-retries", str(hc["retries"])]
    for v in p.get("volumes") or []:
        src = v.get("volumeName") or v.get("hostPath")
        a += ["--volume", f"{src}:{v['containerPath']}" + (":ro" if v.get("readOnly") else "")]
    for port in p.get("ports") or []:
        a += ["--publish", f"{port.get('ip', '0.0.0.0')}:{port['external']}:{port['internal']}/{port.get('protocol', 'tcp')}"]
    for h in p.get("hosts") or []:
        a += ["--add-host", f"{h['host']}:{h['ip']}"]
    if p.get("memory"):
        a += ["--memory", f"{p['memory']}m"]
    if p.get("memorySwap"):
        a += ["--memory-swap", f"{p['memorySwap']}m"]
    if p.get("cpus"):
        a += ["--cpus", str(p["cpus"])]
    if p.get("shmSize"):
        a += ["--shm-size", f"{p['shmSize']}m"]
    for s in p.get("securityOpts") or []:
        a += ["--security-opt", s]
    caps = p.get("capabilities") or {}
    for c in caps.get("drops") or []:
        a += ["--cap-drop", c]
    for c in caps.get("adds") or []:
        a += ["--cap-add", c]
    nets = p.get("networksAdvanced") or []
    if nets:
        a += ["--network", nets[0]["name"]]
        for alias in nets[0].get("aliases") or []:
            a += ["--network-alias", alias]
    if p.get("entrypoints"):
        a += ["--entrypoint", p["entrypoints"][0]]
    a.append(p["image"])
    a += list(p.get("entrypoints") or [])[1:]
    a += list(p.get("command") or [])
    return a


def _sh(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def upload_tar(uploads: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dirs: set[str] = set()
        for u in uploads:
            path = u["file"].lstrip("/")
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            data = (u.get("content") or "").encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), int(str(u.get("permissions") or "0644"), 8)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def ready_probe(p: dict[str, Any]) -> list[str]:
    test = (p.get("healthcheck") or {}).get("tests") or []
    if not test:
        return []
    if test[0] == "CMD-SHELL":
        return ["exec", p["name"], "/bin/sh", "-c", test[1]]
    return ["exec", p["name"], *test[1:]]


def run_container(p: dict[str, Any], timeout: float) -> None:
    docker(*create_args(p))
    for net in (p.get("networksAdvanced") or [])[1:]:
        docker("network", "connect", *[x for a in net.get("aliases") or [] for x in ("--alias", a)], net["name"], p["name"])
    if p.get("uploads"):
        docker("cp", "-", f"{p['name']}:/", stdin=upload_tar(p["uploads"]))
    docker("start", p["name"])
    probe = ready_probe(p)
    deadline = time.monotonic() + timeout
    while probe:
        if subprocess.run(["docker", *probe], capture_output=True).returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{p['name']} not ready after {timeout} s")
        time.sleep(POLL)


def run_command(p: dict[str, Any]) -> str:
    env = {**os.environ, **(p.get("environment") or {})}
    stdin = p.get("stdin")
    res = subprocess.run(["/bin/sh", "-c", p["create"]], input=stdin, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"command failed: {res.stderr.strip()[-500:]}")
    return res.stdout.strip()


def new_values(old_stdout: str, new_stdout: str) -> dict[str, str]:
    """What a step made anew (e.g. a runner's token): old -> new strings of its JSON output."""
    try:
        old, new = json.loads(old_stdout), json.loads(new_stdout)
    except (TypeError, ValueError):
        return {}
    if not isinstance(old, dict) or not isinstance(new, dict):
        return {}
    return {str(v): str(new[k]) for k, v in old.items() if isinstance(v, str) and k in new and new[k] != v}


def substitute(value: Any, subs: dict[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in subs.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: substitute(v, subs) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, subs) for v in value]
    return value


def graph(deployment: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any], set[str], dict[str, Any]]]:
    """urn -> (type, plain inputs, urns of the replayed resources it depends on (through components too),
    plain outputs)."""
    resources = deployment["resources"]
    by_urn = {r["urn"]: r for r in resources}
    deps_memo: dict[str, set[str]] = {}

    def deps(urn: str) -> set[str]:
        """Replayed resources that ``urn`` waits for: its dependencies, and those of its ancestors."""
        if urn in deps_memo:
            return deps_memo[urn]
        deps_memo[urn] = set()
        r = by_urn[urn]
        out: set[str] = set()
        for d in r.get("dependencies") or []:
            if d not in by_urn:
                continue
            out |= {d} if by_urn[d]["type"] in KINDS else deps(d) | _children(d)
        if r.get("parent") in by_urn:
            out |= deps(r["parent"])
        deps_memo[urn] = out
        return out

    def _children(component: str) -> set[str]:
        kids = {r["urn"] for r in resources if r.get("parent") == component}
        return {k for k in kids if by_urn[k]["type"] in KINDS} | {x for k in kids if by_urn[k]["type"] not in KINDS for x in _children(k)}

    return {
        r["urn"]: (r["type"], plain(r.get("inputs") or {}), deps(r["urn"]), plain(r.get("outputs") or {}))
        for r in resources
        if r["type"] in KINDS
    }


def replay(deployment: dict[str, Any], timeout: float = 600) -> float:
    """Recreate everything, each resource as soon as its dependencies are done. Returns the wall time."""
    g = graph(deployment)
    done: set[str] = set()
    running: dict[Future, str] = {}
    subs: dict[str, str] = {}  # values made anew by a step (a runner token) replace the recorded ones downstream
    start = time.monotonic()

    def do(urn: str) -> None:
        typ, p, _, outputs = g[urn]
        p = substitute(p, subs)
        if typ == NETWORK:
            docker("network", "create", "--driver", p.get("driver", "bridge"), *(["--internal"] if p.get("internal") else []), p["name"])
        elif typ == VOLUME:
            docker("volume", "create", p["name"])
        elif typ == CONTAINER:
            run_container(p, timeout)
        elif typ == COMMAND:
            subs.update(new_values(outputs.get("stdout", ""), run_command(p)))

    with ThreadPoolExecutor(max_workers=16) as pool:
        while len(done) < len(g):
            for urn, (_, _, deps, _) in g.items():
                if urn not in done and urn not in running.values() and deps <= done:
                    running[pool.submit(do, urn)] = urn
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                f.result()
                done.add(running.pop(f))
    return time.monotonic() - start


def teardown(deployment: dict[str, Any]) -> None:
    g = graph(deployment)
    names = {t: [p["name"] for typ, p, _, _ in g.values() if typ == t] for t in (CONTAINER, NETWORK, VOLUME)}
    if names[CONTAINER]:
        subprocess.run(["docker", "rm", "-f", "-v", *names[CONTAINER]], capture_output=True)
    if names[NETWORK]:
        subprocess.run(["docker", "network", "rm", *names[NETWORK]], capture_output=True)
    if names[VOLUME]:
        subprocess.run(["docker", "volume", "rm", "-f", *names[VOLUME]], capture_output=True)
