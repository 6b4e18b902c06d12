"""ports.py: dev environments' SSH ports from their names alone, and the ports the platform keeps for itself."""

import pytest

from dap_components.ports import SSH_PORT_FIRST, SSH_PORT_LAST, dev_ssh_port, reserved_ports
from dap_components.services import gitlab, postgres


def test_ssh_ports_stay_in_their_range_and_use_all_of_it():
    ports = [dev_ssh_port(f"env-{i}") for i in range(5000)]
    assert (SSH_PORT_FIRST, SSH_PORT_LAST) == (2201, 2999)
    assert min(ports) == SSH_PORT_FIRST and max(ports) == SSH_PORT_LAST
    assert len(set(ports)) > 750  # spread over the range, not clustered


@pytest.mark.parametrize("name,port", [("ann", 2656), ("bob", 2550), ("dev", 2388), ("a", 2471)])
def test_ssh_port_of_a_name_never_changes(name, port):
    """Users keep these ports in their ssh config: a change of the formula would move every environment."""
    assert dev_ssh_port(name) == port


def test_ssh_port_depends_on_the_name_only():
    assert dev_ssh_port("ann") != dev_ssh_port("ann2")
    assert len({dev_ssh_port(n) for n in ("ann", "bob", "carol", "dave")}) == 4


def test_reserved_ports_are_the_ports_the_services_declare():
    assert reserved_ports() == {gitlab.SSH_PORT, *postgres.PORTS.values()} == {2222, 54321, 54322}


def test_reserved_ports_are_what_the_service_proxy_publishes_besides_https_and_http(deployed):
    d = deployed(runnerCount=0, portainer={"enabled": True})
    published = {p["external"] for p in d.containers()["dap-dev-proxy"].inputs["ports"]}
    assert published - {443, 80} == reserved_ports()
    streams = {r.name: d.registered_outputs(r.name)["endpoint"] for r in d.of_type("dap:index:ProxyRoute")
               if d.registered_outputs(r.name)["endpoint"].startswith("tcp://")}
    assert {int(e.rsplit(":", 1)[1]) for e in streams.values()} == reserved_ports()
