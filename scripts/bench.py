#!/usr/bin/env python3
"""Benchmark: program evaluation under mocks for runnerCount 1, 10 and 50, and, where the Pulumi
toolchain runs, cold `up` (images present), no-op `up`, `preview`, +1 runner and `destroy`.

    venv/bin/python scripts/bench.py [--repeat N]

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    print("| measurement | resources | median | min | max |")
    print("|---|---|---|---|---|")
    for n in (1, 10, 50):
        evaluate(n)  # warm imports and caches
        runs = [evaluate(n) for _ in range(args.repeat)]
        times = [t for t, _ in runs]
        print(f"| program evaluation under mocks, runnerCount={n} | {runs[0][1]} | {statistics.median(times):.2f} s | {min(times):.2f} s | {max(times):.2f} s |")
    if not toolchain_ready():
        print("| cold up / no-op up / preview / +1 runner / destroy | - | not measurable here: the Pulumi toolchain is incomplete (toolchain/README.md) | | |")
        return
    from tests.integration.conftest import copy_project, make_stack, toolchain_env  # noqa: E402
    from tests.integration.test_e2e import e2e_config  # noqa: E402

    import tempfile
    import uuid

    env = toolchain_env()
    with tempfile.TemporaryDirectory() as backend, tempfile.TemporaryDirectory() as work:
        env["PULUMI_BACKEND_URL"] = f"file://{backend}"
        env["PULUMI_CONFIG_PASSPHRASE"] = uuid.uuid4().hex
        stack = make_stack(copy_project(Path(work)), env, e2e_config(1), prefix="bench")
        try:
            def timed(label, fn):
                start = time.perf_counter()
                fn()
                print(f"| {label} | | {time.perf_counter() - start:.1f} s | | |")

            timed("cold `up` (images present)", stack.up)
            timed("no-op `up`", stack.up)
            timed("`preview`", stack.preview)
            from pulumi import automation as auto

            stack.set_config("data-analysis-platform:runnerCount", auto.ConfigValue("2"))
            timed("`up` +1 runner", stack.up)
            timed("`destroy`", stack.destroy)
        finally:
            stack.workspace.remove_stack(stack.name, force=True)


if __name__ == "__main__":
    main()
