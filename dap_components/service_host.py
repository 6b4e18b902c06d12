"""ServiceHost: the networks, volumes and services of the platform's service host, and its proxy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker

from .config import PlatformConfig
from .containers import NetworkAttachment
from .pki import StackPki
from .proxy import HostProxyArgs, declare_proxy
from .render.postgres import data_tuning, service_tuning
from .routes import HttpRoute, StreamRoute
from .host import environment_ref, job_image_variable
from .services import gitlab, mlflow, pgadmin, portainer, postgres
from .services.base import HostContext, ServiceResult
from .services.minio import MinioStore

# Networks by purpose. Only "front" reaches the outside world; the others are internal.
NETWORKS = {
    "front": False,  # proxy (publishes ports), runners and dev environments of this host
    "web": True,  # proxy <-> web applications
    "db": True,  # PostgreSQL <-> its clients and the proxy's TCP streams
    "storage": True,  # object store <-> MLflow and the proxy
}


@dataclass
class ServiceHostArgs:
    cfg: PlatformConfig
    pki: StackPki
    prefix: str  # Docker object name prefix on the host, e.g. "dap-dev"
    # Routes of DevEnvironments placed on this host (declared by them, served by this proxy).
    extra_http_routes: Sequence[HttpRoute] = field(default_factory=tuple)
    extra_stream_routes: Sequence[StreamRoute] = field(default_factory=tuple)


class ServiceHost(pulumi.ComponentResource):
    front_network: pulumi.Output[str]
    hostnames: list[str]  # the names of the platform's services on its proxy
    urls: dict[str, str]
    credentials: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ServiceHostArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("dap:index:ServiceHost", name, {}, opts)
        cfg = args.cfg
        child = pulumi.ResourceOptions(parent=self)
        networks = {
            purpose: docker.Network(
                f"{name}-{purpose}-net",
                name=f"{args.prefix}-{purpose}",
                driver="bridge",
                internal=internal,
                labels=[docker.NetworkLabelArgs(label="dap.purpose", value=purpose)],
                opts=child,
            )
            for purpose, internal in NETWORKS.items()
        }
        ctx = HostContext(
            name=name,
            prefix=args.prefix,
            cfg=cfg,
            pki=args.pki,
            docker_host=cfg.service_host.docker_host,
            opts=child,
            networks=networks,
        )

        mlflow_db_password = ctx.password("postgres-service", "mlflow-password")
        pg_service = postgres.declare(
            ctx, "postgres-service", service_tuning(), {"mlflow": mlflow_db_password}, memory_mb=cfg.memory_mb.postgres_service
        )
        tuning = data_tuning(cfg.postgres_data.memory_mb, cfg.postgres_data.max_connections)
        pg_data = postgres.declare(ctx, "postgres-data", tuning, {}, memory_mb=cfg.postgres_data.memory_mb)
        store = MinioStore(ctx)
        bucket = store.bucket_with_key(mlflow.BUCKET)
        mlflow_service = mlflow.declare(ctx, mlflow_db_password, pg_service.ready, store.endpoint, bucket)
        self.gitlab = gitlab.GitLab(ctx)
        # in the order the platform presents them (its `urls` output, the names other hosts resolve)
        services: list[ServiceResult] = [
            self.gitlab.service,
            mlflow_service,
            store.service,
            pgadmin.declare(ctx),
            pg_service,
            pg_data,
        ]
        if cfg.portainer.enabled:
            services.append(portainer.declare(ctx))

        # CI jobs reach MLflow with no manual step: its credentials as instance variables (the password masked
        # in job logs), next to the images of the environments runners hold for jobs. MLFLOW_TRACKING_URI and
        # the CA come from the runner's job environment.
        self.gitlab.instance_variables(
            {
                "MLFLOW_TRACKING_USERNAME": (mlflow.USERNAME, False),
                "MLFLOW_TRACKING_PASSWORD": (mlflow_service.credentials["mlflow-password"], True),
                **{job_image_variable(e): (environment_ref(e, cfg.images), False) for e in cfg.runner.job_environments},
                **({"DAP_IMAGE_KANIKO": (cfg.images.kaniko, False)} if cfg.images.kaniko else {}),
            }
        )

        own_http = [r for s in services for r in s.http_routes]
        own_streams = [r for s in services for r in s.stream_routes]
        # the platform's names (not those of dev environments placed here), in that order: other hosts resolve
        # them to this one
        self.hostnames = list(dict.fromkeys([r.hostname for r in own_http] + [r.hostname for r in own_streams if r.hostname]))
        http_routes = own_http + list(args.extra_http_routes)
        stream_routes = own_streams + list(args.extra_stream_routes)
        self.routes, self.proxy = declare_proxy(
            name,
            f"{name}-proxy",
            networks["front"].name,
            HostProxyArgs(
                image_ref=cfg.images.nginx,
                prefix=args.prefix,
                http_routes=http_routes,
                stream_routes=stream_routes,
                pki=args.pki,
                docker_host=cfg.service_host.docker_host,
                publish_address=cfg.service_host.publish_address,
                https_port=cfg.service_host.https_port,
                http_port=cfg.service_host.http_port,
                memory_mb=cfg.memory_mb.proxy,
                other_networks=[
                    NetworkAttachment(networks["web"].name),
                    NetworkAttachment(networks["db"].name),
                    # MLflow reaches S3 at its public name, so presigned URLs work for clients too
                    NetworkAttachment(networks["storage"].name, [f"s3.{cfg.domain}"]),
                ],
                htpasswd={k: v for s in services for k, v in s.htpasswd.items()},
            ),
            child,
        )

        self.networks = networks
        self.front_network = networks["front"].name
        self.urls = {k: v for s in services for k, v in s.urls.items()}
        self.credentials = {
            k: pulumi.Output.from_input(v) for s in services for k, v in s.credentials.items()
        }
        self.register_outputs(
            {
                "frontNetwork": self.front_network,
                "urls": self.urls,
                "credentials": pulumi.Output.secret(self.credentials),
            }
        )
