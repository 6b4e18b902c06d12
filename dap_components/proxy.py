"""ProxyRoute (one routed hostname or TCP port) and the nginx proxy container of a Docker host."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import pulumi
import pulumi_docker as docker

from .containers import ContainerSpec, NetworkAttachment, Started, Upload, make_container, pinned_image
from .pki import CertBundle, StackPki
from .render import nginx
from .routes import HttpRoute, StreamRoute

Route = Union[HttpRoute, StreamRoute]


@dataclass(frozen=True)
class ProxyRouteArgs:
    route: Route


class ProxyRoute(pulumi.ComponentResource):
    """A routed name (https://<hostname>) or TCP port on a host's proxy, and where it leads."""

    endpoint: pulumi.Output[str]
    upstream: pulumi.Output[str]

    def __init__(self, name: str, args: ProxyRouteArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("dap:index:ProxyRoute", name, {}, opts)
        self.route = args.route
        if isinstance(args.route, HttpRoute):
            endpoint = f"https://{args.route.hostname}"
        else:
            endpoint = f"tcp://:{args.route.listen_port}"
        self.endpoint = pulumi.Output.from_input(endpoint)
        self.upstream = pulumi.Output.from_input(args.route.upstream)
        self.register_outputs({"endpoint": self.endpoint, "upstream": self.upstream})


def route_resource_name(route: Route) -> str:
    if isinstance(route, HttpRoute):
        return route.hostname.split(".", 1)[0]
    return route.name


def declare_routes(name: str, routes: Sequence[Route], opts: pulumi.ResourceOptions) -> list[ProxyRoute]:
    """One ProxyRoute component per routed name or TCP port of the proxy called ``name``."""
    return [ProxyRoute(f"{name}-{route_resource_name(r)}-route", ProxyRouteArgs(r), opts=opts) for r in routes]


def route_hostnames(http_routes: Sequence[HttpRoute], stream_routes: Sequence[StreamRoute]) -> list[str]:
    """Every name clients use to reach this proxy: its certificate's SANs and its network aliases."""
    return sorted({r.hostname for r in http_routes} | {s.hostname for s in stream_routes if s.hostname})


@dataclass
class ProxySpec:
    image_ref: str
    container_name: str
    routes: Sequence[ProxyRoute]
    bundle: CertBundle
    networks: Sequence[NetworkAttachment]
    publish_address: str
    https_port: int
    http_port: int
    htpasswd: dict[str, pulumi.Input[str]]  # file name under nginx.HTPASSWD_DIR -> content (secret)
    docker_host: str  # where it runs (its readiness is polled through the docker CLI)
    memory_mb: int = 256


def proxy_container(name: str, spec: ProxySpec, opts: pulumi.ResourceOptions) -> Started:
    """The nginx container: the only container of a host that publishes ports."""
    http_routes = [r.route for r in spec.routes if isinstance(r.route, HttpRoute)]
    stream_routes = [r.route for r in spec.routes if isinstance(r.route, StreamRoute)]
    conf = nginx.render_nginx_conf(http_routes, stream_routes, public_https_port=spec.https_port)
    image = pinned_image(f"{name}-image", spec.image_ref, opts)
    uploads = [
        Upload("/etc/nginx/nginx.conf", conf),
        Upload(nginx.CERTIFICATE, spec.bundle.fullchain_pem),
        Upload(nginx.CERTIFICATE_KEY, spec.bundle.key_pem, mode="0400"),
    ] + [Upload(f"{nginx.HTPASSWD_DIR}/{fname}", content) for fname, content in sorted(spec.htpasswd.items())]
    ports = [(spec.https_port, spec.https_port, spec.publish_address), (nginx.HTTP_PORT, spec.http_port, spec.publish_address)]
    ports += [(s.listen_port, s.listen_port, spec.publish_address) for s in sorted(stream_routes, key=lambda s: s.listen_port)]
    return make_container(
        name,
        spec.container_name,
        ContainerSpec(
            role="proxy",
            image=image.image_id,
            healthcheck=["CMD-SHELL", "kill -0 $(cat /var/run/nginx.pid)"],
            health_start_period=10,
            networks=spec.networks,
            command=["nginx", "-g", "daemon off;"],
            uploads=uploads,
            ports=ports,
            memory_mb=spec.memory_mb,
            capabilities=["CHOWN", "SETGID", "SETUID"],  # master as root, workers as nginx
        ),
        opts,
        docker_host=spec.docker_host,
    )


@dataclass
class HostProxyArgs:
    image_ref: str
    prefix: str  # Docker object name prefix on that host
    http_routes: Sequence[HttpRoute]
    stream_routes: Sequence[StreamRoute]
    pki: StackPki  # issues the proxy certificate
    docker_host: str
    publish_address: str
    https_port: int
    http_port: int
    memory_mb: int = 256
    # Set by the service host, whose proxy also fronts its internal networks and protects some routes:
    other_networks: Sequence[NetworkAttachment] = ()
    htpasswd: Optional[dict[str, pulumi.Input[str]]] = None


def declare_proxy(
    name: str, bundle_name: str, front_network: pulumi.Input[str], args: HostProxyArgs, opts: pulumi.ResourceOptions
) -> tuple[list[ProxyRoute], Started]:
    """The one way a host's proxy is declared, on the service host and on every other host: a ProxyRoute per
    routed name or TCP port, a certificate for every name, and the nginx container answering for those names on
    ``front_network``."""
    routes = declare_routes(name, [*args.http_routes, *args.stream_routes], opts)
    names = route_hostnames(args.http_routes, args.stream_routes)
    bundle = args.pki.proxy_bundle(bundle_name, names, opts)
    container = proxy_container(
        f"{name}-proxy",
        ProxySpec(
            image_ref=args.image_ref,
            container_name=f"{args.prefix}-proxy",
            routes=routes,
            bundle=bundle,
            networks=[NetworkAttachment(front_network, names), *args.other_networks],
            publish_address=args.publish_address,
            https_port=args.https_port,
            http_port=args.http_port,
            htpasswd=dict(args.htpasswd or {}),
            docker_host=args.docker_host,
            memory_mb=args.memory_mb,
        ),
        opts,
    )
    return routes, container


class HostProxy(pulumi.ComponentResource):
    """The proxy of a Docker host other than the service host (dev environments placed there)."""

    network: pulumi.Output[str]

    def __init__(self, name: str, args: HostProxyArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("dap:index:HostProxy", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        net = docker.Network(f"{name}-net", name=f"{args.prefix}-front", driver="bridge", opts=child)
        self.routes, self.container = declare_proxy(name, name, net.name, args, child)
        self.network = net.name
        self.register_outputs({"network": self.network})
