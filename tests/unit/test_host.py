"""host.py: stable host names, one explicit provider per distinct Docker host, placement of runners and environments."""

import json

import pytest

from tests.conftest import SECRET_MARK, leaks
from tests.unit.helpers import is_secret

from dap_components.config import load_config
from dap_components.host import Hosts, host_slug

SERVICE = "unix:///var/run/docker.sock"
TLS = {
    "caMaterial": "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n",
    "certMaterial": "-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n",
    "keyMaterial": f"-----BEGIN PRIVATE KEY-----\n{SECRET_MARK}-key\n-----END PRIVATE KEY-----\n",
}
PROVIDER = "pulumi:providers:docker"


def config(runner_hosts, **extra):
    return load_config({"domain": "dap.example.test", "serviceHost": {"address": "192.0.2.10"}, "runnerHosts": runner_hosts, **extra})


def hosts_of(program, cfg):
    run = program(lambda: {"hosts": Hosts.from_config(cfg)})
    return run, run.objects["hosts"]


@pytest.mark.parametrize("address,slug", [
    ("ssh://ci@192.0.2.20", "ci-192-0-2-20"),
    ("ssh://ci@192.0.2.20:2222", "ci-192-0-2-20-2222"),
    ("tcp://192.0.2.20:2376", "192-0-2-20-2376"),
    ("unix:///var/run/docker.sock", "var-run-docker-sock"),
    ("SSH://CI@Build.Example.TEST", "ci-build-example-test"),
    ("", "local"),
    ("unix:///", "local"),
])
def test_host_slug_spells_the_address_as_a_resource_name(address, slug):
    assert host_slug(address) == slug


def test_host_slug_is_stable_and_bounded():
    long = "ssh://builder@" + "a" * 80 + ".example.test"
    assert host_slug(long) == host_slug(long)
    assert len(host_slug(long)) <= 50 and set(host_slug(long)) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    # distinct hosts, distinct names
    assert len({host_slug(a) for a in ("ssh://ci@192.0.2.20", "ssh://ci@192.0.2.21", "ssh://cd@192.0.2.20")}) == 3


def test_provider_names_do_not_depend_on_the_position_in_the_config(program):
    a, b = "ssh://ci@192.0.2.20", "ssh://ci@192.0.2.30"
    one, _ = hosts_of(program, config([{"dockerHost": a}, {"dockerHost": b}]))
    two, _ = hosts_of(program, config([{"dockerHost": b}, {"dockerHost": a}]))
    by_host = lambda run: {p.inputs["host"]: p.name for p in run.of_type(PROVIDER)}  # noqa: E731
    assert by_host(one) == by_host(two) == {
        SERVICE: "docker-service", a: "docker-ci-192-0-2-20", b: "docker-ci-192-0-2-30",
    }


def test_one_provider_per_distinct_docker_host(program):
    x, y = "ssh://ci@192.0.2.20", "tcp://192.0.2.30:2376"
    run, hosts = hosts_of(program, config([
        {"dockerHost": x}, {"dockerHost": SERVICE}, {"dockerHost": x}, {"dockerHost": y, **TLS},
    ]))
    providers = run.of_type(PROVIDER)
    assert sorted(p.inputs["host"] for p in providers) == sorted([SERVICE, x, y])
    # an entry naming the service host's engine is the service host; repeated entries are one host
    assert [h.docker_host for h in hosts.for_runner_entry] == [x, SERVICE, x, y]
    assert hosts.for_runner_entry[1] is hosts.service
    assert hosts.for_runner_entry[0] is hosts.for_runner_entry[2]
    assert [h.docker_host for h in hosts.others] == [x, y]  # distinct, in config order, without the service host
    assert hosts.service.key == "service" and [h.key for h in hosts.others] == ["ci-192-0-2-20", "192-0-2-30-2376"]
    # each host's resources go through its own provider
    for host in [hosts.service, *hosts.others]:
        assert host.opts.providers == [host.provider]
    assert len({id(h.provider) for h in [hosts.service, *hosts.others]}) == 3


def test_providers_exist_before_anything_is_placed_on_their_host(program):
    """runnerCount 0: the providers are there already, so scaling up never adds one."""
    run, _ = hosts_of(program, config([{"dockerHost": "ssh://ci@192.0.2.20"}], runnerCount=0))
    assert sorted(p.name for p in run.of_type(PROVIDER)) == ["docker-ci-192-0-2-20", "docker-service"]


def test_provider_connection_settings(program):
    ssh, tcp = "ssh://ci@192.0.2.20", "tcp://192.0.2.30:2376"
    run, _ = hosts_of(program, config([{"dockerHost": ssh, "sshOpts": ["-i", "/keys/ci"]}, {"dockerHost": tcp, **TLS}]))
    service = run.named("docker-service")
    assert service.inputs == {"host": SERVICE}  # the service host: its address only
    assert json.loads(run.named("docker-ci-192-0-2-20").inputs["sshOpts"]) == ["-i", "/keys/ci"]
    remote = run.named("docker-192-0-2-30-2376")
    assert remote.inputs["caMaterial"] == TLS["caMaterial"] and remote.inputs["certMaterial"] == TLS["certMaterial"]
    # the client key reaches the provider as a secret, never in plain text
    assert is_secret(remote.raw["keyMaterial"]) and remote.inputs["keyMaterial"] == TLS["keyMaterial"]
    assert leaks(remote.raw) == []


def test_runners_go_round_robin_over_the_runner_hosts(program):
    x, y = "ssh://ci@192.0.2.20", "ssh://ci@192.0.2.30"
    _, hosts = hosts_of(program, config([{"dockerHost": SERVICE}, {"dockerHost": x}, {"dockerHost": y}]))
    placed = [hosts.for_runner(i) for i in range(7)]
    assert [h.docker_host for h in placed] == [SERVICE, x, y, SERVICE, x, y, SERVICE]
    assert placed[0] is hosts.service and placed[1] is placed[4] and placed[2] is placed[5]


def test_without_runner_hosts_everything_is_on_the_service_host(program):
    run, hosts = hosts_of(program, config([]))
    assert hosts.others == [] and hosts.for_runner_entry == []
    assert all(hosts.for_runner(i) is hosts.service for i in range(4))
    assert hosts.for_environment("service") is hosts.service
    assert [p.name for p in run.of_type(PROVIDER)] == ["docker-service"]


def test_environments_are_placed_by_runner_host_index(program):
    x = "ssh://ci@192.0.2.20"
    _, hosts = hosts_of(program, config([{"dockerHost": x}, {"dockerHost": SERVICE}]))
    assert hosts.for_environment("service") is hosts.service
    assert hosts.for_environment(0).docker_host == x and hosts.for_environment(0) is hosts.others[0]
    assert hosts.for_environment(1) is hosts.service  # the entry names the service host's engine


def test_a_host_is_one_object_compared_by_identity(program):
    x = "ssh://ci@192.0.2.20"
    _, hosts = hosts_of(program, config([{"dockerHost": x}]))
    other = hosts.others[0]
    copy = type(other)(other.key, other.docker_host, other.provider)
    assert copy != other and {other: 1}.get(copy) is None  # dict keys (build() groups environments by host)
    # filled in later by build(), empty at first
    assert other.front_network is None and other.runner_network is None and list(other.platform_hosts) == []
