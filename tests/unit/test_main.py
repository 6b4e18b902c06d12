"""__main__.py: bad config stops the program before any resource is registered; good config builds."""

import asyncio
import json
import runpy

import pulumi
from pulumi.runtime import mocks as pmocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests.conftest import ROOT, PlatformMocks, RecordingMonitor

from dap_components.config import PROJECT


def run_main(config):
    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = PlatformMocks()
    monitor = RecordingMonitor(mocks)
    pmocks.set_mocks(mocks, project=PROJECT, stack="dev", preview=False, monitor=monitor)
    pulumi.runtime.set_all_config({f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})
    error = None

    def program():
        nonlocal error
        try:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        except SystemExit as exc:
            error = exc

    try:
        _sync_await(run_pulumi_func(program))
    finally:
        pulumi.runtime.set_all_config({})
    return monitor, error


def test_invalid_config_stops_before_any_resource():
    monitor, error = run_main({"domain": "Bad Domain", "runnerCount": "-1", "portainer": {"enabled": "yes please"}})
    assert error is not None
    message = str(error)
    assert "domain:" in message and "runnerCount:" in message and "portainer.enabled:" in message
    assert monitor.recorded == []


def test_valid_config_builds_the_platform():
    monitor, error = run_main({"domain": "dap.example.test", "runnerCount": "2"})
    assert error is None
    types = [r.typ for r in monitor.recorded]
    assert types.count("dap:index:ServiceHost") == 1 and types.count("dap:index:RunnerHost") == 2
