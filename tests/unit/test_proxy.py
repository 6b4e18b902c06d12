"""proxy.py: one ProxyRoute per routed name or TCP port, the names a proxy answers for, the proxy container (the
only publisher of ports) and the HostProxy of a host other than the service host."""

import re

import pulumi
import pulumi_docker as docker
import pytest

from tests.conftest import SECRET_MARK, leaks
from tests.unit.helpers import REMOTE_HOST, STACK_CA_PEM, TWO_HOSTS, is_secret, raw_upload, upload

from dap_components.config import load_config
from dap_components.containers import NetworkAttachment
from dap_components.pki import StackPki
from dap_components.ports import dev_ssh_port
from dap_components.proxy import (
    HostProxy, HostProxyArgs, ProxyRoute, ProxyRouteArgs, ProxySpec, declare_routes, proxy_container,
    route_hostnames, route_resource_name,
)
from dap_components.render import nginx
from dap_components.routes import HttpRoute, StreamRoute

DOMAIN = "dap.example.test"
JUPYTER = HttpRoute(f"jupyter-ann.{DOMAIN}", "dev-ann", 8888)
SSH = StreamRoute("dev-ann-ssh", 2656, "dev-ann", 22, hostname=f"jupyter-ann.{DOMAIN}")
PG = StreamRoute("postgres-data", 54322, "postgres-data", 5432, hostname=f"postgres-data.{DOMAIN}")
ANON = StreamRoute("raw", 7000, "raw", 7000)  # a stream with no name on the certificate
REMOTE = REMOTE_HOST


def test_a_route_component_per_name_and_port_with_its_endpoint_and_upstream(program):
    run = program(lambda: {"routes": declare_routes("edge", [JUPYTER, SSH, PG], pulumi.ResourceOptions())})
    routes = run.of_type("dap:index:ProxyRoute")
    assert sorted(r.name for r in routes) == ["edge-dev-ann-ssh-route", "edge-jupyter-ann-route", "edge-postgres-data-route"]
    assert run.registered_outputs("edge-jupyter-ann-route") == {"endpoint": f"https://jupyter-ann.{DOMAIN}", "upstream": "dev-ann:8888"}
    assert run.registered_outputs("edge-dev-ann-ssh-route") == {"endpoint": "tcp://:2656", "upstream": "dev-ann:22"}
    assert run.registered_outputs("edge-postgres-data-route") == {"endpoint": "tcp://:54322", "upstream": "postgres-data:5432"}
    # each component keeps its route (the proxy container renders nginx.conf from them)
    assert [r.route for r in run.objects["routes"]] == [JUPYTER, SSH, PG]


def test_route_outputs_resolve(program):
    def fn():
        r = ProxyRoute("x-route", ProxyRouteArgs(HttpRoute(f"s3.{DOMAIN}", "minio", 9000)))
        return {"endpoint": r.endpoint, "upstream": r.upstream}

    run = program(fn)
    assert run.outputs == {"endpoint": (f"https://s3.{DOMAIN}", False), "upstream": ("minio:9000", False)}


def test_route_resource_names():
    assert route_resource_name(HttpRoute(f"minio-console.{DOMAIN}", "minio", 9001)) == "minio-console"
    assert route_resource_name(SSH) == "dev-ann-ssh"


def test_route_hostnames_are_the_certificate_and_alias_names():
    names = route_hostnames([JUPYTER, HttpRoute(f"gitlab.{DOMAIN}", "gitlab", 80)], [SSH, PG, ANON])
    assert names == sorted({f"jupyter-ann.{DOMAIN}", f"gitlab.{DOMAIN}", f"postgres-data.{DOMAIN}"})
    assert route_hostnames([], [ANON]) == []


def proxy_run(program, routes, publish="127.0.0.1", https=443, http=80, htpasswd=None, docker_host="unix:///var/run/docker.sock"):
    def fn():
        pki = StackPki("stack", DOMAIN, load_config({"domain": DOMAIN}).tls)
        rs = declare_routes("edge", routes, pulumi.ResourceOptions())
        bundle = pki.issue("edge", route_hostnames(
            [r for r in routes if isinstance(r, HttpRoute)], [r for r in routes if isinstance(r, StreamRoute)]))
        started = proxy_container("edge-proxy", ProxySpec(
            image_ref="nginx:1.28.0-bookworm", container_name="dap-t-proxy", routes=rs, bundle=bundle,
            networks=[NetworkAttachment("dap-t-front", ["a.x"])], publish_address=publish, https_port=https,
            http_port=http, htpasswd={k: pulumi.Output.secret(v) for k, v in (htpasswd or {}).items()},
            docker_host=docker_host,
        ), pulumi.ResourceOptions())
        return {"started": started}

    run = program(fn)
    return run, run.named("edge-proxy")


def test_proxy_container_publishes_https_http_and_each_stream_on_the_publish_address(program):
    _, c = proxy_run(program, [JUPYTER, PG, SSH], publish="127.0.0.1", https=8443, http=8080)
    ports = [(p["internal"], p["external"], p["ip"], p["protocol"]) for p in c.inputs["ports"]]
    assert ports == [
        (8443, 8443, "127.0.0.1", "tcp"),  # nginx also listens on the public port, so inside URLs match
        (nginx.HTTP_PORT, 8080, "127.0.0.1", "tcp"),
        (2656, 2656, "127.0.0.1", "tcp"),  # streams in port order
        (54322, 54322, "127.0.0.1", "tcp"),
    ]


def test_proxy_container_files(program):
    run, c = proxy_run(program, [JUPYTER, SSH], https=8443, htpasswd={"mlflow": f"mlflow:$2y${SECRET_MARK}"})
    conf = upload(c, "/etc/nginx/nginx.conf")["content"]
    assert f"server_name jupyter-ann.{DOMAIN};" in conf and "set $upstream http://dev-ann:8888;" in conf
    assert re.search(r"listen 2656;\n\s+set \$upstream_\d+ dev-ann:22;", conf)
    assert "return 301 https://$host:8443$request_uri;" in conf
    cert = upload(c, nginx.CERTIFICATE)
    assert cert["content"].count("BEGIN CERTIFICATE") == 2  # leaf, then the CA
    key = raw_upload(c, nginx.CERTIFICATE_KEY)
    assert key["permissions"] == "0400" and is_secret(key["content"])
    assert is_secret(raw_upload(c, f"{nginx.HTPASSWD_DIR}/mlflow")["content"])
    assert leaks(c.raw) == []
    assert c.inputs["command"] == ["nginx", "-g", "daemon off;"]
    assert c.inputs["capabilities"] == {"drops": ["ALL"], "adds": ["CAP_CHOWN", "CAP_SETGID", "CAP_SETUID"]}
    assert c.inputs["name"] == "dap-t-proxy" and c.inputs["networksAdvanced"] == [{"name": "dap-t-front", "aliases": ["a.x"]}]
    # readiness polled through the docker CLI on its host
    assert run.named("edge-proxy-ready").inputs["environment"] == {"DOCKER_HOST": "unix:///var/run/docker.sock"}


@pytest.mark.parametrize("config", [
    {"runnerCount": 1, "portainer": {"enabled": True}, "devEnvironments": [{"name": "ann"}]},
    TWO_HOSTS,
], ids=["one-host", "two-hosts"])
def test_the_proxy_is_the_only_container_that_publishes_ports(deployed, config):
    d = deployed(**config)
    publishing = sorted((c.name, c.provider_name) for c in d.of_type("docker:index/container:Container") if c.inputs.get("ports"))
    proxies = sorted((c.name, c.provider_name) for c in d.of_type("docker:index/container:Container") if c.inputs["name"] == "dap-dev-proxy")
    assert publishing == proxies
    assert len({p for _, p in proxies}) == len(proxies)  # one proxy per host that has one


def host_proxy(program, http, streams, **kw):
    def fn():
        provider = docker.Provider("docker-remote", host=REMOTE)
        pki = StackPki("stack", DOMAIN, load_config({"domain": DOMAIN}).tls)
        args = dict(image_ref="nginx:1.28.0-bookworm", prefix="dap-t", http_routes=http, stream_routes=streams, pki=pki,
                    docker_host=REMOTE, publish_address="0.0.0.0", https_port=443, http_port=80)
        hp = HostProxy("proxy-remote", HostProxyArgs(**{**args, **kw}), opts=pulumi.ResourceOptions(providers=[provider]))
        return {"network": hp.network, "proxy": hp}

    return program(fn)


def test_host_proxy_on_another_host(program):
    run = host_proxy(program, [JUPYTER], [SSH], memory_mb=128)
    children = {r.name: r for r in run.descendants("proxy-remote")}
    assert set(children) >= {"proxy-remote-net", "proxy-remote-proxy", "proxy-remote-proxy-image", "proxy-remote-proxy-ready",
                             "proxy-remote-jupyter-ann-route", "proxy-remote-dev-ann-ssh-route", "proxy-remote-tls-cert"}
    # every Docker object on the remote host's provider
    assert {r.provider_name for r in children.values() if r.typ.startswith("docker:")} == {"docker-remote"}
    net = children["proxy-remote-net"]
    assert net.inputs["name"] == "dap-t-front" and not net.inputs.get("internal")
    assert run.outputs["network"] == ("dap-t-front", False)
    assert run.registered_outputs("proxy-remote") == {"network": "dap-t-front"}
    c = children["proxy-remote-proxy"]
    assert c.inputs["name"] == "dap-t-proxy" and c.inputs["memory"] == 128
    # dev environments on that network reach the proxy by every routed name
    assert c.inputs["networksAdvanced"] == [{"name": "dap-t-front", "aliases": [f"jupyter-ann.{DOMAIN}"]}]
    assert {(p["external"], p["ip"]) for p in c.inputs["ports"]} == {(443, "0.0.0.0"), (80, "0.0.0.0"), (2656, "0.0.0.0")}
    assert children["proxy-remote-proxy-ready"].inputs["environment"] == {"DOCKER_HOST": REMOTE}
    # its certificate names what it routes, signed by the stack CA
    assert children["proxy-remote-tls-csr"].inputs["dnsNames"] == [f"jupyter-ann.{DOMAIN}"]
    assert children["proxy-remote-tls-cert"].inputs["caCertPem"] == STACK_CA_PEM
    # no htpasswd files: nothing behind basic auth on a dev environments' proxy
    assert not [u for u in c.inputs["uploads"] if u["file"].startswith(nginx.HTPASSWD_DIR)]


def test_host_proxy_serves_only_its_hosts_routes(deployed):
    d = deployed(**TWO_HOSTS)
    (hp,) = d.of_type("dap:index:HostProxy")
    routes = {r.name: d.registered_outputs(r.name) for r in d.of_type("dap:index:ProxyRoute") if r.parent_name == hp.name}
    assert routes == {
        f"{hp.name}-jupyter-bob-route": {"endpoint": f"https://jupyter-bob.{DOMAIN}", "upstream": "dev-bob:8888"},
        f"{hp.name}-dev-bob-ssh-route": {"endpoint": f"tcp://:{dev_ssh_port('bob')}", "upstream": "dev-bob:22"},
    }
    service_routes = {r.name for r in d.of_type("dap:index:ProxyRoute") if r.parent_name == "service"}
    assert "service-jupyter-ann-route" in service_routes and not any("bob" in n for n in service_routes)
