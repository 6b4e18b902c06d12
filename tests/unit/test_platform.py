"""The whole program under mocks: secrecy end to end, providers per Docker host, scaling."""

import json

import pytest

from tests.conftest import SECRET_MARK, leaks

TWO_HOSTS = {
    "serviceHost": {"address": "192.0.2.10"},
    "runnerHosts": [
        {"dockerHost": "unix:///var/run/docker.sock"},
        {"dockerHost": "ssh://ci@192.0.2.20", "address": "192.0.2.20", "sshOpts": ["-i", "/keys/ci"]},
    ],
}
EVERYTHING = {
    **TWO_HOSTS,
    "runnerCount": 3,
    "portainer": {"enabled": True},
    "devEnvironments": [{"name": "ann"}, {"name": "bob", "host": 1}],
}


def test_leak_detector_finds_a_plain_secret():
    wire = {"envs": ["A=1", f"B={SECRET_MARK}-x"], "uploads": [{"content": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": SECRET_MARK}}]}
    assert leaks(wire) == [".envs[1]"]


def test_no_generated_secret_reaches_a_resource_input_unmarked(deploy):
    d = deploy(**EVERYTHING, gitlab={})
    found = {r.name: leaks(r.raw) for r in d.resources}
    assert {k: v for k, v in found.items() if v} == {}
    # and the secrets really are there, wrapped: the check looked at real values
    assert SECRET_MARK in json.dumps(d.named("service-gitlab").raw)


def test_configured_secrets_stay_secret(deploy):
    token = f"glrt-{SECRET_MARK}0123456789"
    d = deploy(**EVERYTHING, gitlab={"runnerToken": token})
    assert {r.name: leaks(r.raw) for r in d.resources if leaks(r.raw)} == {}
    assert not d.of_type("command:local:Command") or all(not r.name.endswith("-registration") for r in d.of_type("command:local:Command"))


def test_outputs_hold_secrets_only_as_secrets(deploy):
    d = deploy(**EVERYTHING)
    for key, (value, is_secret) in d.outputs.items():
        if SECRET_MARK in json.dumps(value, default=str):
            assert is_secret, key
    creds, secret = d.outputs["credentials"]
    assert secret and SECRET_MARK in creds["gitlab-root-password"]
    env_secrets, secret = d.outputs["devEnvironmentSecrets"]
    assert secret and "privateKey" in env_secrets["ann"] and env_secrets["ann"]["jupyterToken"]


def test_no_container_environment_carries_a_secret(deploy):
    d = deploy(**EVERYTHING)
    for name, c in d.containers().items():
        for e in c.inputs.get("envs", []):
            assert SECRET_MARK not in e, (name, e.split("=")[0])


def test_one_provider_per_docker_host(deploy):
    d = deploy(**EVERYTHING)
    providers = d.of_type("pulumi:providers:docker")
    assert sorted((p.name, p.inputs["host"]) for p in providers) == [
        ("docker-ci-192-0-2-20", "ssh://ci@192.0.2.20"),
        ("docker-service", "unix:///var/run/docker.sock"),
    ]
    assert json.loads(d.named("docker-ci-192-0-2-20").inputs["sshOpts"]) == ["-i", "/keys/ci"]
    # every docker resource names its provider explicitly; none falls back to a default provider
    for r in d.resources:
        if r.typ.startswith("docker:") and r.custom:
            assert r.provider_name in {"docker-service", "docker-ci-192-0-2-20"}, r.name


def test_round_robin_placement(deploy):
    d = deploy(**EVERYTHING)
    placed = {r.inputs["name"]: r.provider_name for r in d.of_type("docker:index/container:Container") if "runner" in r.inputs["name"]}
    assert placed == {
        "dap-dev-runner-1": "docker-service",
        "dap-dev-runner-2": "docker-ci-192-0-2-20",
        "dap-dev-runner-3": "docker-service",
    }


@pytest.mark.parametrize("count", [0, 1, 3])
def test_runner_count(deploy, count):
    d = deploy(runnerCount=count)
    hosts = d.of_type("dap:index:RunnerHost")
    assert sorted(h.name for h in hosts) == [f"runner-{i}" for i in range(1, count + 1)]
    runners = [c for c in d.of_type("docker:index/container:Container") if c.inputs["name"].startswith("dap-dev-runner-")]
    assert len(runners) == count
    assert d.outputs["runners"][0] == [f"dap-dev-runner-{i}" for i in range(1, count + 1)]


def fingerprint(d):
    return {r.urn: (r.provider, json.dumps(r.inputs, sort_keys=True, default=str), r.parent) for r in d.resources}


@pytest.mark.parametrize("config", [{}, TWO_HOSTS], ids=["one-host", "two-hosts"])
def test_scaling_adds_exactly_the_new_runner_host(deploy, config):
    before = fingerprint(deploy(**config, runnerCount=2, devEnvironments=[{"name": "ann"}]))
    after_dep = deploy(**config, runnerCount=3, devEnvironments=[{"name": "ann"}])
    after = fingerprint(after_dep)
    # every resource of runnerCount=2 is present with identical inputs, parent and provider
    assert {u: after.get(u) for u in before} == before
    # and everything new belongs to the new RunnerHost
    new = set(after) - set(before)
    runner3 = after_dep.named("runner-3").urn
    in_runner3 = {r.urn for r in after_dep.descendants("runner-3")} | {runner3}
    assert new == in_runner3
    assert len(new) >= 5


def test_scaling_down_removes_exactly_the_last_runner_host(deploy):
    three = fingerprint(deploy(runnerCount=3))
    two = fingerprint(deploy(runnerCount=2))
    removed = set(three) - set(two)
    assert removed and all("runner-3" in u for u in removed)
    assert {u: three[u] for u in two} == two
