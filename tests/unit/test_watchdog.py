"""watchdog.py and watchdog_agent.py: one hardened watchdog per Docker host, declared after every other container
of its host, mounting that host's engine socket; the agent's choice of what to start (plan)."""

from __future__ import annotations

import pytest

from dap_components import watchdog_agent as agent
from policy import rules

CONTAINER = "docker:index/container:Container"


def watchdogs(d):
    return [c for c in d.of_type(CONTAINER) if c.inputs["name"].endswith("-watchdog")]


def test_one_hardened_watchdog_per_host_declared_after_every_other_container_there(deploy):
    d = deploy(
        runnerCount=2,
        serviceHost={"address": "192.0.2.10"},
        runnerHosts=[{"dockerHost": "unix:///run/docker-b.sock"}, {"dockerHost": "ssh://ci@192.0.2.30", "dockerSocket": "/srv/docker.sock"}],
        devEnvironments=[{"name": "ann"}],
    )
    by_provider = {w.provider_name: w for w in watchdogs(d)}
    assert set(by_provider) == {"docker-service", "docker-run-docker-b-sock", "docker-ci-192-0-2-30"}
    sockets = {p: w.inputs["volumes"] for p, w in by_provider.items()}
    assert sockets["docker-service"] == [{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock", "readOnly": False}]
    assert sockets["docker-run-docker-b-sock"][0]["hostPath"] == "/run/docker-b.sock"  # that engine's own socket
    assert sockets["docker-ci-192-0-2-30"][0]["hostPath"] == "/srv/docker.sock"  # dockerSocket wins
    for provider, w in by_provider.items():
        assert w.inputs["name"] == "dap-dev-watchdog"
        assert w.inputs["networkMode"] == "none" and "networksAdvanced" not in w.inputs and "ports" not in w.inputs
        assert w.inputs["capabilities"] == {"drops": ["ALL"], "adds": []}
        assert "no-new-privileges:true" in w.inputs["securityOpts"] and w.inputs["memory"] == 64
        assert "DAP_PREFIX=dap-dev-" in w.inputs["envs"]
        assert {"label": "dap.watch-prefix", "value": "dap-dev-"} in w.inputs["labels"]
        assert w.inputs["uploads"][0]["content"] == agent.__loader__.get_source(agent.__name__)  # the agent, as in the repo
        others = [c for c in d.of_type(CONTAINER) if c.provider_name == provider and c is not w]
        assert others and all(c.urn in w.depends_on for c in others), provider  # created last, destroyed first


def test_no_watchdog_when_disabled(deploy):
    assert watchdogs(deploy(runnerCount=1, watchdog={"enabled": False})) == []


def test_the_policy_lets_only_the_socket_roles_mount_any_docker_socket():
    def container(role, path):
        return {"name": f"c-{role}", "labels": [{"label": "dap.role", "value": role}], "volumes": [{"hostPath": path}]}

    found: list[str] = []
    rules.docker_socket_only_for_portainer_and_runners(container("watchdog", "/run/docker-b.sock"), found.append)
    assert found == []
    rules.docker_socket_only_for_portainer_and_runners(container("mlflow", "/run/docker-b.sock"), found.append)
    assert found and "mlflow" in found[0]


def listed(name, state, role="svc", prefix=None):
    labels = {"dap.role": role}
    if prefix:
        labels["dap.watch-prefix"] = prefix
    return {"Id": name + "-id", "Names": [f"/{name}"], "State": state, "Status": state, "Labels": labels}


def test_the_agent_starts_exactly_its_stacks_exited_containers():
    containers = [
        listed("dap-ci-mlflow", "exited"),
        listed("dap-ci-gitlab", "running"),
        listed("dap-ci-proxy", "dead"),
        listed("dap-ci-runner-2", "created"),  # Pulumi is creating it
        listed("dap-ci-restore-mlflow", "exited"),  # another stack's, whose watchdog runs
        listed("dap-ci-restore-watchdog", "running", "watchdog", "dap-ci-restore-"),
        listed("dap-ci-watchdog", "running", "watchdog", "dap-ci-"),
        listed("dap-other-mlflow", "exited"),
        {**listed("dap-ci-scratch", "exited"), "Labels": {}},  # not the platform's
    ]
    assert [agent.name_of(c) for c in agent.plan(containers, "dap-ci-", {}, now=1000.0)] == ["dap-ci-mlflow", "dap-ci-proxy"]
    # without a running watchdog of its own, the other stack's exited containers fall to the longest live prefix
    alone = [c for c in containers if agent.name_of(c) != "dap-ci-restore-watchdog"]
    assert "dap-ci-restore-mlflow" in [agent.name_of(c) for c in agent.plan(alone, "dap-ci-", {}, now=1000.0)]


@pytest.mark.parametrize("count,since,due", [(1, 2.0, False), (1, 3.5, True), (3, 11.0, False), (3, 12.5, True), (20, 299.0, False), (20, 301.0, True)])
def test_the_agent_backs_off_from_a_container_that_keeps_exiting(count, since, due):
    c = listed("dap-ci-mlflow", "exited")
    history = {"dap-ci-mlflow": (1000.0, count)}
    assert bool(agent.plan([c], "dap-ci-", history, now=1000.0 + since)) is due


def test_a_container_that_stays_up_loses_its_backoff():
    history = {"dap-ci-mlflow": (1000.0, 5)}
    agent.settle([listed("dap-ci-mlflow", "running")], history, now=1030.0)
    assert history  # not yet stable
    agent.settle([listed("dap-ci-mlflow", "running")], history, now=1061.0)
    assert history == {}
