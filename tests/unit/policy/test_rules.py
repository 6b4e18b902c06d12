"""Each policy rule with a passing and a failing case, then the whole pack over the program's own graph."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "policy"))

import rules  # noqa: E402


def violations(fn, *args):
    found = []
    fn(*args, found.append)
    return found


def container(role="mlflow", **props):
    base = {
        "name": f"dap-x-{role}",
        "labels": [{"label": "dap.role", "value": role}],
        "restart": "unless-stopped",
        "healthcheck": {"tests": ["CMD", "true"]},
        "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "3"},
        "image": "sha256:" + "a" * 64,
        "securityOpts": ["no-new-privileges:true"],
        "memory": 512,
    }
    return {**base, **props}


def test_no_privileged():
    assert violations(rules.no_privileged, container()) == []
    assert violations(rules.no_privileged, container(privileged=True))
    assert violations(rules.no_privileged, container("gitlab-runner", privileged=True))
    found = []
    rules.no_privileged(container("gitlab-runner", privileged=True), found.append, True)
    assert found == []


def test_docker_socket():
    sock = [{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock"}]
    assert violations(rules.docker_socket_only_for_portainer_and_runners, container("portainer", volumes=sock)) == []
    assert violations(rules.docker_socket_only_for_portainer_and_runners, container("gitlab-runner", volumes=sock)) == []
    assert violations(rules.docker_socket_only_for_portainer_and_runners, container("mlflow", volumes=sock))
    assert violations(rules.docker_socket_only_for_portainer_and_runners, container("gitlab", mounts=[{"source": "/var/run/docker.sock"}]))


def test_ports_only_on_proxies():
    ports = [{"internal": 443, "external": 443}]
    assert violations(rules.ports_only_on_proxies, container("proxy", ports=ports)) == []
    assert violations(rules.ports_only_on_proxies, container("gitlab", ports=ports))


@pytest.mark.parametrize("change,fragment", [
    ({"restart": "no"}, "restart policy"),
    ({"healthcheck": None}, "healthcheck"),
    ({"logOpts": {}}, "log rotation"),
    ({"image": "nginx:latest"}, "image id"),
])
def test_long_running_guarantees(change, fragment):
    assert violations(rules.long_running_guarantees, container()) == []
    found = violations(rules.long_running_guarantees, container(**change))
    assert len(found) == 1 and fragment in found[0]


@pytest.mark.parametrize("ref,ok", [
    ("nginx:1.28.0-bookworm", True), ("registry.local:5000/team/img:2.1", True),
    ("img@sha256:" + "b" * 64, True), ("nginx:latest", False), ("nginx", False), ("registry.local:5000/img", False),
])
def test_pinned_image(ref, ok):
    assert (violations(rules.pinned_image, {"name": ref}) == []) is ok


def test_secret_env():
    assert violations(rules.secret_env_only_as_files, container(envs=["POSTGRES_PASSWORD_FILE=/run/x", "PGHOST=db", "KEYBOARD=us"])) == []
    assert violations(rules.secret_env_only_as_files, container(envs=["MINIO_ROOT_PASSWORD=hunter2"]))
    assert violations(rules.secret_env_only_as_files, container(envs=["GITLAB_TOKEN=glpat-x"]))
    assert violations(rules.secret_env_only_as_files, container(envs=["AWS_SECRET_ACCESS_KEY=x"]))


def test_hardened():
    assert violations(rules.hardened, container()) == []
    assert len(violations(rules.hardened, container(securityOpts=[], memory=0))) == 2


def test_state_volume_retained():
    ok = {"name": "v", "labels": [{"label": "dap.state", "value": "true"}, {"label": "dap.retain-on-delete", "value": "true"}]}
    bad = {"name": "v", "labels": [{"label": "dap.state", "value": "true"}]}
    cache = {"name": "c", "labels": [{"label": "dap.state", "value": "false"}]}
    assert violations(rules.state_volume_retained, ok) == [] and violations(rules.state_volume_retained, cache) == []
    assert violations(rules.state_volume_retained, bad)


def test_internal_networks_for_data():
    nets = [(rules.NETWORK, {"name": "db", "internal": True}), (rules.NETWORK, {"name": "front", "internal": False})]
    good = nets + [(rules.CONTAINER, container("postgres-data", networksAdvanced=[{"name": "db"}]))]
    bad = nets + [(rules.CONTAINER, container("minio", networksAdvanced=[{"name": "db"}, {"name": "front"}]))]
    default = nets + [(rules.CONTAINER, container("postgres-service"))]
    assert violations(rules.internal_networks_for_data, good) == []
    assert violations(rules.internal_networks_for_data, bad) and violations(rules.internal_networks_for_data, default)


def test_the_programs_graph_passes_every_rule(deploy):
    """The pack's rules over everything the program declares (mocks), with every optional part on."""
    d = deploy(
        runnerCount=2, portainer={"enabled": True}, devEnvironments=[{"name": "ann"}, {"name": "bob", "host": 0}],
        serviceHost={"address": "192.0.2.10"}, runnerHosts=[{"dockerHost": "ssh://ci@192.0.2.20"}],
    )
    found = []
    per_type = {
        rules.CONTAINER: [rules.no_privileged, rules.docker_socket_only_for_portainer_and_runners, rules.ports_only_on_proxies,
                          rules.long_running_guarantees, rules.secret_env_only_as_files, rules.hardened],
        rules.IMAGE: [rules.pinned_image],
        rules.VOLUME: [rules.state_volume_retained],
    }
    checked = 0
    for r in d.resources:
        for fn in per_type.get(r.typ, []):
            fn(r.inputs, found.append)
            checked += 1
    rules.internal_networks_for_data([(r.typ, r.inputs) for r in d.resources], found.append)
    assert checked > 50 and found == []


@pytest.mark.parametrize("before,after,stop", [
    ("18.2.3", "18.5.1", None),  # from a stop to the next one
    ("18.2.3", "18.4.0", None),
    ("18.1.0", "18.5.1", "18.2"),
    ("17.9.2", "18.5.1", "17.11"),  # 17.11, then 18.2
    ("16.10.1", "17.0.0", "16.11"),
    ("18.5.1", "18.5.4", None),  # a patch release
])
def test_gitlab_upgrades_must_not_skip_a_required_stop(before, after, stop):
    found = violations(rules.gitlab_upgrade_stops, {"environment": {"DAP_GITLAB_FROM": before, "DAP_GITLAB_TO": after}})
    if stop is None:
        assert found == []
    else:
        assert len(found) == 1 and f"skips the required upgrade stop {stop}:" in found[0]


def test_the_stops_on_a_long_way_are_all_named_and_a_downgrade_is_refused():
    assert rules.gitlab_stops_between("17.9.2", "18.9.0") == ["17.11", "18.2", "18.5", "18.8"]
    assert "downgrade" in violations(rules.gitlab_upgrade_stops, {"environment": {"DAP_GITLAB_FROM": "18.5.1", "DAP_GITLAB_TO": "18.2.3"}})[0]
    assert violations(rules.gitlab_upgrade_stops, {"environment": {"OTHER": "x"}}) == []
