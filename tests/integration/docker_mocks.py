"""Mocks that carry out, with the docker CLI on the local engine, the Docker resources and local commands the
program declares: networks, volumes, containers (uploads copied in before start, started, waited healthy),
and the provisioning commands (run for real, their stdout returned).

This is a test instrument, not a deployment tool: it lets the files the program renders and the wiring it
declares meet the real software while the Pulumi CLI and plugins cannot be built on this machine
(toolchain/README.md). It does not show what `pulumi up` does (diffs, replacement, state)."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import tarfile
import threading
import time
from typing import Any

import pulumi

from tests.conftest import unwrap

from .real_mocks import RealCryptoMocks


def docker(*args: str, input: bytes | None = None, check: bool = True) -> str:
    res = subprocess.run(["docker", *args], input=input, capture_output=True)
    if check and res.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}...: {res.stderr.decode(errors='replace').strip()}")
    return res.stdout.decode(errors="replace").strip()


def upload_tar(uploads: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for u in uploads:
            data = u["content"].encode()
            info = tarfile.TarInfo(u["file"].lstrip("/"))
            info.size = len(data)
            info.mode = int(u.get("permissions") or "0644", 8)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class DockerMocks(RealCryptoMocks):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix  # every Docker object name starts with it; used for cleanup
        self.images: dict[str, str] = {}  # image id -> reference
        self.log: list[str] = []
        self.stdout: dict[str, str] = {}  # command resource name -> what its create step printed
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = unwrap(dict(args.inputs))
        typ = args.typ
        if typ == "docker:index/network:Network":
            cmd = ["network", "create", "--driver", inputs.get("driver", "bridge")]
            if inputs.get("internal"):
                cmd.append("--internal")
            net_id = docker(*cmd, inputs["name"])
            ipam = json.loads(docker("network", "inspect", "-f", "{{json .IPAM.Config}}", net_id))
            return net_id, {**inputs, "ipamConfigs": [{"subnet": c.get("Subnet"), "gateway": c.get("Gateway")} for c in ipam]}
        if typ == "docker:index/volume:Volume":
            labels = [a for lab in inputs.get("labels") or [] for a in ("--label", f"{lab['label']}={lab['value']}")]
            docker("volume", "create", *labels, inputs["name"])
            return inputs["name"], inputs
        if typ == "docker:index/remoteImage:RemoteImage":
            image_id = docker("image", "inspect", "-f", "{{.Id}}", inputs["name"])
            with self._lock:
                self.images[image_id] = inputs["name"]
            return image_id, {**inputs, "imageId": image_id, "repoDigest": ""}
        if typ == "docker:index/container:Container":
            return self.container(inputs)
        if typ == "command:local:Command":
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", **(inputs.get("environment") or {})}
            res = subprocess.run(["/bin/sh", "-c", inputs["create"]], input=(inputs.get("stdin") or "").encode(),
                                 capture_output=True, env=env, timeout=600)
            if res.returncode != 0:
                raise RuntimeError(f"command {args.name} failed ({res.returncode}): {res.stderr.decode(errors='replace')[-2000:]}")
            out = res.stdout.decode().rstrip("\n")
            self.stdout[args.name] = out
            secret = args.name.endswith("-registration")
            return f"{args.name}_id", {**inputs, "stdout": pulumi.Output.secret(out) if secret else out, "stderr": ""}
        if typ.startswith("docker:") or typ == "pulumi:providers:docker":
            return f"{args.name}_id", inputs
        return super().new_resource(args)

    def container(self, i: dict[str, Any]):
        name = i["name"]
        nets = i.get("networksAdvanced") or []
        cmd = ["create", "--name", name, "--restart", i.get("restart", "no")]
        if nets:
            cmd += ["--network", nets[0]["name"]] + [x for a in nets[0].get("aliases") or [] for x in ("--network-alias", a)]
        for e in i.get("envs") or []:
            cmd += ["-e", e]
        entry = i.get("entrypoints") or []
        if entry:
            cmd += ["--entrypoint", entry[0]]
        for p in i.get("ports") or []:
            cmd += ["-p", f"{p.get('ip', '0.0.0.0')}:{int(p['external'])}:{int(p['internal'])}/{p.get('protocol', 'tcp')}"]
        for v in i.get("volumes") or []:
            src = v.get("volumeName") or v.get("hostPath")
            cmd += ["-v", f"{src}:{v['containerPath']}{':ro' if v.get('readOnly') else ''}"]
        for h in i.get("hosts") or []:
            cmd += ["--add-host", f"{h['host']}:{h['ip']}"]
        if i.get("memory"):
            cmd += ["--memory", f"{int(i['memory'])}m"]
        if i.get("cpus"):
            cmd += ["--cpus", str(i["cpus"])]
        if i.get("shmSize"):
            cmd += ["--shm-size", f"{int(i['shmSize'])}m"]
        for s in i.get("securityOpts") or []:
            cmd += ["--security-opt", s]
        for c in (i.get("capabilities") or {}).get("drops") or []:
            cmd += ["--cap-drop", c]
        for c in (i.get("capabilities") or {}).get("adds") or []:
            cmd += ["--cap-add", c]
        if i.get("readOnly"):
            cmd.append("--read-only")
        for t, opts in (i.get("tmpfs") or {}).items():
            cmd += ["--tmpfs", f"{t}:{opts}" if opts else t]
        if i.get("user"):
            cmd += ["--user", i["user"]]
        hc = i.get("healthcheck") or {}
        tests = hc.get("tests") or []
        if tests:
            # the CLI has only the shell form; the exec form's words are quoted so they mean the same
            health = tests[1] if tests[0] == "CMD-SHELL" else shlex.join(tests[1:])
            cmd += ["--health-cmd", health, "--health-interval", "2s", "--health-timeout", hc.get("timeout", "10s"),
                    "--health-retries", str(max(int(hc.get("retries", 3)), 30))]
        cmd += ["--log-driver", i.get("logDriver", "json-file")]
        for k, v in (i.get("logOpts") or {}).items():
            cmd += ["--log-opt", f"{k}={v}"]
        for lab in i.get("labels") or []:
            cmd += ["--label", f"{lab['label']}={lab['value']}"]
        cmd.append(i["image"])
        cmd += entry[1:] + list(i.get("command") or [])
        cid = docker(*cmd)
        for n in nets[1:]:
            docker("network", "connect", *[x for a in n.get("aliases") or [] for x in ("--alias", a)], n["name"], name)
        if i.get("uploads"):
            docker("cp", "-", f"{name}:/", input=upload_tar(i["uploads"]))
        docker("start", name)
        if i.get("wait") and tests:
            self.wait_healthy(name, int(i.get("waitTimeout", 300)))
        self.log.append(name)
        return cid, {**i, "name": name}

    @staticmethod
    def wait_healthy(name: str, timeout: int) -> None:
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            state = docker("inspect", "-f", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", name)
            if state == "running/healthy":
                return
            if state.startswith(("exited", "dead")):
                break
            time.sleep(1)
        logs = docker("logs", "--tail", "40", name, check=False)
        raise RuntimeError(f"{name} not healthy ({state}) after {timeout}s; last logs:\n{logs}")

    def cleanup(self) -> None:
        for cid in docker("ps", "-aq", "--filter", f"name=^{self.prefix}-", check=False).split():
            docker("rm", "-f", "-v", cid, check=False)
        for net in docker("network", "ls", "-q", "--filter", f"name=^{self.prefix}-", check=False).split():
            docker("network", "rm", net, check=False)
        for vol in docker("volume", "ls", "-q", "--filter", f"name=^{self.prefix}-", check=False).split():
            docker("volume", "rm", "-f", vol, check=False)
