#!/usr/bin/env python3
"""Benchmark: program evaluation under mocks for runnerCount 1, 10 and 50 (no toolchain or engine needed), and,
where the Pulumi toolchain runs, the ci stack on the local engine: cold `up` (images present), no-op `up`,
`preview`, +1 runner, -1 runner and `destroy`, each with min/median/max over --repeat rounds.

    venv/bin/python scripts/bench.py [--repeat N]     (make bench)

Prints a Markdown table (paste it into the README)."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pulumi.runtime import mocks as pmocks  # noqa: E402
from pulumi.runtime.settings import SETTINGS  # noqa: E402
from pulumi.runtime.stack import run_pulumi_func  # noqa: E402
from pulumi.runtime.sync_await import _sync_await  # noqa: E402

from dap_components.config import PROJECT, load_config  # noqa: E402
from dap_components.platform import build  # noqa: E402
from tests.conftest import PlatformMocks, RecordingMonitor  # noqa: E402


def evaluate(runner_count: int) -> tuple[float, int]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = PlatformMocks()
    monitor = RecordingMonitor(mocks)
    pmocks.set_mocks(mocks, project=PROJECT, stack="bench", preview=False, monitor=monitor)
    cfg = load_config({"domain": "dap.example.test", "runnerCount": runner_count, "devEnvironments": [{"name": "ann"}]})
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    start = time.perf_counter()
    _sync_await(run_pulumi_func(lambda: build(cfg, "bench")))
    elapsed = time.perf_counter() - start
    loop.close()
    return elapsed, len(monitor.recorded)


def machine() -> str:
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}"


def toolchain_ready() -> bool:
    return subprocess.run([str(ROOT / "scripts" / "pulumi"), "version"], capture_output=True).returncode == 0


def cpu_busy_seconds() -> float:
    """CPU seconds spent by the whole machine so far (all cores, everything but idle and iowait)."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def idle_platform_cpu(settle: float = 20, window: float = 60) -> float:
    """Percent of one core the machine spends over ``window`` seconds with the platform deployed and unused."""
    time.sleep(settle)
    start, t0 = cpu_busy_seconds(), time.monotonic()
    time.sleep(window)
    return 100 * (cpu_busy_seconds() - start) / (time.monotonic() - t0)


def row(label: str, times: list[float], resources: str = "") -> None:
    print(f"| {label} | {resources} | {statistics.median(times):.2f} s | {min(times):.2f} s | {max(times):.2f} s | {len(times)} |")


def bench_deployment(repeat: int) -> None:
    """The ci stack (offline images) on the local engine: each round is cold up, no-op up, preview, +1 runner,
    destroy, then its retained volumes removed so the next cold up starts from nothing."""
    import tempfile
    import uuid

    import floor

    from tests.integration.client import docker
    from tests.integration.conftest import ci_config, copy_project, make_stack, toolchain_env, write_stack_config

    env = toolchain_env()
    figures: dict[str, list[float]] = {k: [] for k in ("cold", "noop", "preview", "add", "remove", "destroy", "floor")}
    counts: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as backend, tempfile.TemporaryDirectory() as work:
        env["PULUMI_BACKEND_URL"] = f"file://{backend}"
        env["PULUMI_CONFIG_PASSPHRASE"] = uuid.uuid4().hex
        project = copy_project(Path(work))
        stack = make_stack(project, env, ci_config(), prefix="bench")
        prefix = f"dap-{stack.name}"

        def timed(key, fn):
            start = time.perf_counter()
            result = fn()
            figures[key].append(time.perf_counter() - start)
            return result

        try:
            for _ in range(repeat):
                write_stack_config(project, stack.name, ci_config())
                up = timed("cold", stack.up)
                counts["cold"] = str(up.summary.resource_changes.get("create", ""))
                if not figures.get("idle"):
                    figures.setdefault("idle", []).append(idle_platform_cpu())
                noop = timed("noop", stack.up)
                assert set(noop.summary.resource_changes) == {"same"}, noop.summary.resource_changes
                timed("preview", stack.preview)
                write_stack_config(project, stack.name, {**ci_config(), "runnerCount": 2})
                add = timed("add", stack.up)
                counts["add"] = str(add.summary.resource_changes.get("create", ""))
                write_stack_config(project, stack.name, ci_config())
                timed("remove", stack.up)
                deployment = stack.export_stack().deployment  # inputs with secrets in plain text, for the floor
                timed("destroy", stack.destroy)
                vols = docker("volume", "ls", "-q", "--filter", f"name=^{prefix}-").split()
                if vols:
                    docker("volume", "rm", *vols)
            # The floor: the same graph replayed with the docker CLI, polled every 0.5 s (scripts/floor.py).
            for _ in range(repeat):
                try:
                    figures["floor"].append(floor.replay(deployment))
                finally:
                    floor.teardown(deployment)
        finally:
            stack.workspace.remove_stack(stack.name, force=True)
    row("cold `up` of the ci stack (images present, no volumes)", figures["cold"], counts.get("cold", ""))
    row("floor: the same containers and steps with `docker` (scripts/floor.py)", figures["floor"])
    print(f"| ratio cold `up` / floor (medians) | | {statistics.median(figures['cold']) / statistics.median(figures['floor']):.2f} | | | |")
    print(f"| CPU of the idle platform over 60 s (machine total, % of one core) | | {figures['idle'][0]:.1f} % | | | 1 |")
    row("no-op `up` (0 changes)", figures["noop"])
    row("`preview` (0 changes)", figures["preview"])
    row("`up` runnerCount 1 -> 2", figures["add"], counts.get("add", ""))
    row("`up` runnerCount 2 -> 1", figures["remove"])
    row("`destroy` (volumes kept)", figures["destroy"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    print("| measurement | resources | median | min | max | runs |")
    print("|---|---|---|---|---|---|")
    for n in (1, 10, 50):
        evaluate(n)  # warm imports and caches
        runs = [evaluate(n) for _ in range(max(args.repeat, 5))]
        row(f"program evaluation under mocks, runnerCount={n}", [t for t, _ in runs], str(runs[0][1]))
    if not toolchain_ready():
        print("| deployment figures | | not measured: no Pulumi toolchain here (make toolchain) | | | |")
        return
    bench_deployment(args.repeat)


if __name__ == "__main__":
    main()
