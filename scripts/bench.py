#!/usr/bin/env python3
"""Benchmark: program evaluation under mocks for runnerCount 1, 10 and 50 (no toolchain or engine needed), and,
where the Pulumi toolchain runs, the ci stack on the local engine: cold `up` (images present), no-op `up`,
`preview`, +1 runner, -1 runner and `destroy`, each with min/median/max over --repeat rounds.

    venv/bin/python scripts/bench.py [--repeat N]     (make bench)

Prints a Markdown table (paste it into the README)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pulumi.runtime.stack import run_pulumi_func  # noqa: E402
from pulumi.runtime.sync_await import _sync_await  # noqa: E402

from dap_components.config import load_config  # noqa: E402
from dap_components.platform import build  # noqa: E402
from tests.conftest import start_mocks  # noqa: E402


def evaluate(runner_count: int) -> tuple[float, int]:
    """Seconds to evaluate the program under mocks (as `pulumi up` runs it: a fresh runtime, everything
    registered and resolved), and the number of resources it declares."""
    loop = asyncio.new_event_loop()
    monitor = start_mocks(loop, "bench")
    cfg = load_config({"domain": "dap.example.test", "runnerCount": runner_count, "devEnvironments": [{"name": "ann"}]})
    gc.collect()
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
    """The ci stack (offline images) on the local engine, driven by the CLI exactly as the README tells users to
    (`pulumi up --yes --skip-preview`, `pulumi preview`, `pulumi destroy --yes`; the Automation API would add
    about 0.8 s of its own per command). Each round: cold up, no-op up, preview, +1 runner, -1 runner, destroy,
    then the retained volumes removed so the next cold up starts from nothing."""
    import json
    import tempfile
    import uuid

    import floor

    from tests.integration.client import docker
    from tests.integration.conftest import ci_config, copy_project, toolchain_env, write_stack_config

    env = {**os.environ, **toolchain_env()}
    figures: dict[str, list[float]] = {k: [] for k in ("cold", "noop", "preview", "add", "remove", "destroy", "floor")}
    counts: dict[str, str] = {}
    stack = f"bench{uuid.uuid4().hex[:6]}"
    prefix = f"dap-{stack}"
    with tempfile.TemporaryDirectory() as backend, tempfile.TemporaryDirectory() as work:
        env["PULUMI_BACKEND_URL"] = f"file://{backend}"
        env["PULUMI_CONFIG_PASSPHRASE"] = uuid.uuid4().hex
        project = copy_project(Path(work))

        def pulumi(*args: str) -> str:
            res = subprocess.run(["pulumi", *args, "--stack", stack], cwd=project, env=env, capture_output=True, text=True)
            if res.returncode != 0:
                out = res.stdout
                diagnostics = out[out.find("Diagnostics:"):] if "Diagnostics:" in out else out[-3000:]
                raise SystemExit(f"pulumi {' '.join(args)} failed:\n{diagnostics[:6000]}\n{res.stderr[-3000:]}")
            return res.stdout

        def timed(key: str, *args: str) -> None:
            start = time.perf_counter()
            pulumi(*args)
            figures[key].append(time.perf_counter() - start)

        def remove_volumes() -> None:
            """The stack's retained volumes, so the next cold up (or the next bench) starts from nothing."""
            vols = docker("volume", "ls", "-q", "--filter", f"name=^{prefix}-").split()
            if vols:
                docker("volume", "rm", *vols)

        def last_changes() -> dict[str, int]:
            return json.loads(pulumi("stack", "history", "--json", "--page-size", "1"))[0]["resourceChanges"]

        up = ("up", "--yes", "--skip-preview")
        subprocess.run(["pulumi", "stack", "init", stack], cwd=project, env=env, check=True, capture_output=True)
        try:
            for _ in range(repeat):
                write_stack_config(project, stack, ci_config())
                timed("cold", *up)
                counts["cold"] = str(last_changes().get("create", ""))
                if not figures.get("idle"):
                    figures.setdefault("idle", []).append(idle_platform_cpu())
                timed("noop", *up, "--expect-no-changes")  # fails unless 0 changes
                timed("preview", "preview", "--expect-no-changes")
                write_stack_config(project, stack, {**ci_config(), "runnerCount": 2})
                timed("add", *up)
                counts["add"] = str(last_changes().get("create", ""))
                write_stack_config(project, stack, ci_config())
                timed("remove", *up)
                deployment = json.loads(pulumi("stack", "export", "--show-secrets"))["deployment"]  # for the floor
                timed("destroy", "destroy", "--yes")
                remove_volumes()
            # The floor: the same graph replayed with the docker CLI, polled every 0.5 s (scripts/floor.py).
            for _ in range(repeat):
                try:
                    figures["floor"].append(floor.replay(deployment))
                finally:
                    floor.teardown(deployment)
        finally:
            subprocess.run(["pulumi", "destroy", "--yes", "--stack", stack], cwd=project, env=env, capture_output=True)
            subprocess.run(["pulumi", "stack", "rm", "--yes", "--force", stack], cwd=project, env=env, capture_output=True)
            remove_volumes()
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
    per_runner = []
    previous = None
    for n in (1, 10, 25, 50, 100):
        evaluate(n)  # warm imports and caches
        runs = [evaluate(n) for _ in range(max(args.repeat, 5))]
        median = statistics.median(t for t, _ in runs)
        row(f"program evaluation under mocks, runnerCount={n}", [t for t, _ in runs], str(runs[0][1]))
        if previous is not None:
            per_runner.append((previous[0], n, (median - previous[1]) / (n - previous[0])))
        previous = (n, median)
    print("| cost of one more runner under mocks (median difference / runners) | | "
          + ", ".join(f"{a}->{b}: {c * 1000:.0f} ms" for a, b, c in per_runner) + " | | | |")
    if not toolchain_ready():
        print("| deployment figures | | not measured: no Pulumi toolchain here (make toolchain) | | | |")
        return
    bench_deployment(args.repeat)


if __name__ == "__main__":
    main()
