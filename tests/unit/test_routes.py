"""routes.py: the one spelling of public URLs, and the upstream of each kind of route."""

import dataclasses

import pytest

from dap_components.routes import HttpRoute, StreamRoute, public_url


@pytest.mark.parametrize("port,url", [
    (443, "https://gitlab.dap.example.test"),
    (8443, "https://gitlab.dap.example.test:8443"),
    (80, "https://gitlab.dap.example.test:80"),
    (1, "https://gitlab.dap.example.test:1"),
])
def test_public_url_names_the_port_unless_it_is_443(port, url):
    assert public_url("gitlab.dap.example.test", port) == url


def test_http_route_upstream_and_defaults():
    r = HttpRoute("mlflow.dap.example.test", "mlflow", 5000)
    assert r.upstream == "mlflow:5000"
    assert (r.max_body_size, r.buffering, r.basic_auth_file, r.timeout_seconds, r.host_header) == ("16m", True, None, 60, "$host")


def test_stream_route_upstream_and_defaults():
    s = StreamRoute("postgres-data", 54322, "postgres-data", 5432)
    assert s.upstream == "postgres-data:5432"  # the container's port, not the published one
    assert s.hostname is None and s.timeout_seconds == 3600


def test_routes_are_values():
    a, b = HttpRoute("a.x", "a", 80), HttpRoute("a.x", "a", 80)
    assert a == b and len({a, b}) == 1
    assert a != HttpRoute("a.x", "a", 81)
    assert StreamRoute("s", 1, "h", 2, hostname="s.x") == StreamRoute("s", 1, "h", 2, hostname="s.x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.upstream_port = 81  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        StreamRoute("s", 1, "h", 2).listen_port = 3  # type: ignore[misc]
