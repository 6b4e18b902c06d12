"""upgrades.py: what the stack last deployed is read back from its own outputs; a PostgreSQL major-version change
stops __main__ before any resource; a GitLab version change becomes the step the policy pack checks."""

from __future__ import annotations

import asyncio

import pulumi
import pytest

from dap_components import upgrades
from dap_components.config import load_config
from dap_components.platform import build
from tests.conftest import PlatformMocks, close_loops, run_program
from tests.unit.test_main import run_main

OK = {"domain": "dap.example.test"}


@pytest.mark.parametrize("ref,major", [("postgres:17.6-bookworm", 17), ("dap-offline/postgres:15.20", 15),
                                       ("registry.example.test:5000/pg/postgres:16", 16), ("postgres@sha256:" + "a" * 64, None),
                                       ("postgres:bookworm", None)])
def test_postgres_major_from_the_image_tag(ref, major):
    assert upgrades.postgres_major(ref) == major


@pytest.mark.parametrize("ref,version", [("gitlab/gitlab-ce:18.5.1-ce.0", "18.5.1"), ("gitlab/gitlab-ee:17.11.3-ee.0", "17.11.3"),
                                         ("dap-offline/gitlab-standin:1.0.0", None)])
def test_gitlab_version_from_the_image_tag(ref, version):
    assert upgrades.gitlab_version(ref) == version


def test_a_postgres_major_change_is_refused_naming_the_key_both_versions_and_the_way():
    cfg = load_config({**OK, "images": {"postgres": "postgres:17.6-bookworm"}})
    (message,) = upgrades.refusals(cfg, {"postgresMajor": 15})
    assert message.startswith("images.postgres: 'postgres:17.6-bookworm' is PostgreSQL 17")
    assert "created with PostgreSQL 15" in message and "Nothing was changed" in message
    assert "back up" in message and "restore" in message
    assert upgrades.refusals(cfg, {"postgresMajor": 17}) == []
    assert upgrades.refusals(cfg, {}) == []  # a new stack
    assert upgrades.refusals(load_config({**OK, "images": {"postgres": "postgres@sha256:" + "a" * 64}}), {"postgresMajor": 15}) == []


def test_main_reads_the_last_deployment_and_stops_before_any_resource(monkeypatch):
    made = []

    class Previous(PlatformMocks):
        def __init__(self):
            super().__init__({"versions": {"postgresMajor": 15, "gitlab": "18.5.1"}})
            made.append(self)

    monkeypatch.setattr("tests.unit.test_main.PlatformMocks", Previous)
    monitor, error = run_main({**OK, "images": {"postgres": "postgres:17.6-bookworm"}})
    assert made and error is not None and "PostgreSQL 17" in str(error)
    assert monitor.recorded == []


def deployed_with(config: dict, previous: dict):
    loops: list[asyncio.AbstractEventLoop] = []
    cfg = load_config({**OK, **config})
    try:
        return run_program(loops, lambda: {k: pulumi.Output.from_input(v) for k, v in build(cfg, "dev", previous).items()})
    finally:
        close_loops(loops)


def test_a_gitlab_version_change_is_a_step_the_service_host_waits_for():
    d = deployed_with({"runnerCount": 0, "images": {"gitlab": "gitlab/gitlab-ce:18.5.1-ce.0"}}, {"gitlab": "18.2.3", "postgresMajor": 17})
    gate = d.named("gitlab-upgrade")
    assert gate.inputs["environment"] == {"DAP_GITLAB_FROM": "18.2.3", "DAP_GITLAB_TO": "18.5.1"}
    assert gate.urn in d.named("service").depends_on
    assert d.outputs["versions"][0] == {"postgresMajor": 17, "gitlab": "18.5.1"}


@pytest.mark.parametrize("previous", [{}, {"gitlab": "18.5.1"}])
def test_no_upgrade_step_without_a_version_change(previous):
    d = deployed_with({"runnerCount": 0, "images": {"gitlab": "gitlab/gitlab-ce:18.5.1-ce.0"}}, previous)
    assert [r for r in d.resources if r.name == "gitlab-upgrade"] == []


def test_a_stand_in_or_digest_keeps_the_versions_deployed_before():
    d = deployed_with({"runnerCount": 0, "images": {"gitlab": "dap-offline/gitlab-standin:1.0.0"}}, {"gitlab": "18.2.3", "postgresMajor": 15})
    assert d.outputs["versions"][0] == {"postgresMajor": 17, "gitlab": "18.2.3"}  # default postgres image is 17
    assert [r for r in d.resources if r.name == "gitlab-upgrade"] == []
