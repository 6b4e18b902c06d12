"""Pulumi mocks that record every resource (type, name, parent, provider, raw inputs) and return the
outputs real providers compute, secret where the provider's schema makes them secret."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime import mocks as pmocks
from pulumi.runtime.settings import SETTINGS, reset_options
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dap_components.config import PROJECT, PlatformConfig, load_config  # noqa: E402

SECRET_MARK = "mocksecret"  # every generated or configured secret in tests contains this marker
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VAL = "1b47061264138c4ac30d75fd1eb44270"


@dataclass
class Recorded:
    urn: str
    typ: str
    name: str
    parent: str
    provider: str
    custom: bool
    inputs: dict[str, Any]  # deserialized (plain) values
    raw: dict[str, Any]  # wire form, secrets wrapped in {SECRET_SIG: SECRET_VAL, "value": ...}
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    depends_on: tuple[str, ...] = ()
    replacement_trigger: Any = None

    @property
    def parent_name(self) -> str:
        return self.parent.rsplit("::", 1)[-1] if self.parent else ""

    @property
    def provider_name(self) -> str:
        # urn:pulumi:stack::project::pulumi:providers:docker::docker-service::<id>
        return self.provider.split("::")[3] if self.provider else ""


def _h(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def wire_secret(value: Any) -> dict[str, Any]:
    """A secret output as the engine returns it on the wire (the SDK's mock monitor drops the secrecy of
    Output.secret values in some versions; this form is kept by every version)."""
    return {SECRET_SIG: SECRET_VAL, "value": value}


class PlatformMocks(pulumi.runtime.Mocks):
    def __init__(self, stack_outputs: Optional[dict[str, Any]] = None) -> None:
        self.stack_outputs = stack_outputs or {}  # what the engine would read back from the stack's last deployment

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        out: dict[str, Any] = dict(inputs)
        secret = wire_secret
        if typ == "random:index/randomPassword:RandomPassword":
            value = f"{SECRET_MARK}-{_h(name)[:16]}"
            out["result"] = secret(value)
            out["bcryptHash"] = secret(f"$2a$10${SECRET_MARK}{_h(name, 'bcrypt')[:45]}")
        elif typ == "tls:index/privateKey:PrivateKey":
            out["privateKeyPem"] = secret(f"-----BEGIN PRIVATE KEY-----\n{SECRET_MARK}{_h(name)[:32]}\n-----END PRIVATE KEY-----\n")
            out["privateKeyOpenssh"] = secret(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET_MARK}{_h(name)[:32]}\n-----END OPENSSH PRIVATE KEY-----\n")
            out["privateKeyPemPkcs8"] = out["privateKeyPem"]
            out["publicKeyOpenssh"] = f"ssh-ed25519 AAAAC3Nza{_h(name)[:32]} \n"
            out["publicKeyPem"] = f"-----BEGIN PUBLIC KEY-----\n{_h(name)[:32]}\n-----END PUBLIC KEY-----\n"
        elif typ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
            out["certPem"] = f"-----BEGIN CERTIFICATE-----\n{_h(name)[:32]}\n-----END CERTIFICATE-----\n"
        elif typ == "tls:index/certRequest:CertRequest":
            out["certRequestPem"] = f"-----BEGIN CERTIFICATE REQUEST-----\n{_h(name)[:32]}\n-----END CERTIFICATE REQUEST-----\n"
        elif typ == "docker:index/network:Network":
            n = int(_h(name)[:4], 16) % 250 + 1  # deterministic: independent of registration order
            out["ipamConfigs"] = [{"subnet": f"172.30.{n}.0/24", "gateway": f"172.30.{n}.1"}]
        elif typ == "docker:index/remoteImage:RemoteImage":
            out["imageId"] = "sha256:" + _h(inputs.get("name", name))
            out["repoDigest"] = f"{inputs.get('name', name)}@sha256:{_h(inputs.get('name', name))}"
        elif typ == "command:local:Command":
            if name.endswith("-registration"):
                token = f"glrt-{SECRET_MARK}{_h(name)[:20]}"
                out["stdout"] = secret(json.dumps({"id": int(_h(name)[:6], 16), "token": token, "token_expires_at": None}))
            else:
                out["stdout"] = "ok"
            out["stderr"] = ""
        return f"{name}_id", out

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "pulumi:pulumi:readStackOutputs":
            return {"name": args.args["name"], "outputs": self.stack_outputs, "secretOutputNames": []}
        return {}


class RecordingMonitor(pmocks.MockMonitor):
    def __init__(self, mocks: PlatformMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Recorded] = []
        self.outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request):
        resp = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.object) if request.object else {}
            self.recorded.append(
                Recorded(
                    urn=resp.urn,
                    typ=request.type,
                    name=request.name,
                    parent=request.parent,
                    provider=request.provider,
                    custom=request.custom,
                    inputs=unwrap(pulumi.runtime.rpc.deserialize_properties(request.object)) if request.object else {},
                    raw=raw,
                    retain_on_delete=bool(request.retainOnDelete),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    depends_on=tuple(request.dependencies),
                    replacement_trigger=json_format.MessageToDict(request.replacement_trigger)
                    if request.HasField("replacement_trigger") else None,
                )
            )
        return resp

    def RegisterResourceOutputs(self, request):
        self.outputs[request.urn] = json_format.MessageToDict(request.outputs) if request.outputs else {}
        return super().RegisterResourceOutputs(request)


@dataclass
class Deployment:
    monitor: RecordingMonitor
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def resources(self) -> list[Recorded]:
        return self.monitor.recorded

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, name: str) -> Recorded:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"{name}: {len(found)} resources"
        return found[0]

    def containers(self) -> dict[str, Recorded]:
        return {r.inputs["name"]: r for r in self.of_type("docker:index/container:Container")}

    def descendants(self, name: str) -> list[Recorded]:
        """Every resource whose parent chain reaches the resource called ``name``."""
        by_urn = {r.urn: r for r in self.resources}
        root = self.named(name).urn
        out = []
        for r in self.resources:
            p = r.parent
            while p:
                if p == root:
                    out.append(r)
                    break
                p = by_urn[p].parent if p in by_urn else ""
        return out


def unwrap(value: Any) -> Any:
    """The plain value of a property tree, secret wrappers removed."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VAL:
            return unwrap(value.get("value"))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def leaks(value: Any, path: str = "") -> list[str]:
    """Paths of plain (non-secret) strings that carry a secret value, in a wire-form property tree."""
    found: list[str] = []
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VAL:
            return []
        for k, v in value.items():
            found += leaks(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += leaks(v, f"{path}[{i}]")
    elif isinstance(value, str) and SECRET_MARK in value:
        found.append(path)
    return found


BASE_CONFIG: dict[str, Any] = {"domain": "dap.example.test"}


@dataclass
class Run(Deployment):
    """A Deployment, with what the declaring function returned that is not an Output."""

    objects: dict[str, Any] = field(default_factory=dict)

    def registered_outputs(self, name: str) -> dict[str, Any]:
        """What the component called ``name`` passed to register_outputs (wire form)."""
        return self.monitor.outputs[self.named(name).urn]


def start_mocks(loop: asyncio.AbstractEventLoop, stack: str) -> "RecordingMonitor":
    """A fresh runtime on ``loop``, as each `pulumi up` starts with: a new root stack resource (the runtime
    keeps the last one otherwise, whose futures belong to a closed loop: every later program then ran about
    three times slower), recording mocks (preview=False), nothing outstanding."""
    asyncio.set_event_loop(loop)
    reset_options(project=PROJECT, stack=stack)
    monitor = RecordingMonitor(PlatformMocks())
    pmocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    return monitor


def run_program(loops: list[asyncio.AbstractEventLoop], fn: Callable[[], Any], stack: str = "dev") -> Run:
    """Run ``fn`` under the recording mocks (preview=False) and wait for every outstanding registration, as
    `pulumi up` would. ``fn`` returns a dict: Outputs resolved into ``outputs`` (value, is_secret), the rest
    kept in ``objects``."""
    loop = asyncio.new_event_loop()
    loops.append(loop)
    run = Run(start_mocks(loop, stack))

    def main() -> None:
        returned = fn() or {}

        async def settle() -> None:
            for k, v in returned.items():
                if isinstance(v, pulumi.Output):
                    run.outputs[k] = (await v.future(), await v.is_secret())
                else:
                    run.objects[k] = v

        loop.create_task(settle())

    _sync_await(run_pulumi_func(main))
    return run


def close_loops(loops: list[asyncio.AbstractEventLoop]) -> None:
    for loop in loops:
        loop.close()
    asyncio.set_event_loop(None)


def program_of(config: dict[str, Any], stack: str = "dev") -> Callable[[], dict[str, Any]]:
    """The whole program for ``config``, returning every stack output as an Output."""
    cfg: PlatformConfig = load_config({**BASE_CONFIG, **config})

    def fn() -> dict[str, Any]:
        from dap_components.platform import build

        return {k: pulumi.Output.from_input(v) for k, v in build(cfg, stack).items()}

    return fn


@pytest.fixture
def deploy() -> Callable[..., Deployment]:
    """deploy(**config) runs the program under mocks (preview=False) and returns what it registered."""
    loops: list[asyncio.AbstractEventLoop] = []
    yield lambda stack="dev", **config: run_program(loops, program_of(config, stack), stack)
    close_loops(loops)
