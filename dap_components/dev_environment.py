"""DevEnvironment: a reproducible SSH + Jupyter container that IDEs connect to, routed by its host's proxy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker
import pulumi_random as random
import pulumi_tls as tls

from .config import DevEnvironmentConfig
from .containers import ContainerSpec, NetworkAttachment, Upload, make_container
from .host import DockerHost
from .rotation import rotating
from .ports import dev_ssh_port
from .render import SECRETS_DIR
from .render.credentials import render_mlflow_credentials
from .routes import HttpRoute, StreamRoute, public_url
from .services import postgres

USER = "dev"
JUPYTER_PORT = 8888
ssh_port = dev_ssh_port


def alias(env: DevEnvironmentConfig) -> str:
    return f"dev-{env.name}"


def jupyter_hostname(env: DevEnvironmentConfig, domain: str) -> str:
    return f"jupyter-{env.name}.{domain}"


def plan_routes(env: DevEnvironmentConfig, domain: str) -> tuple[list[HttpRoute], list[StreamRoute]]:
    """The routes an environment needs on its host's proxy (plain values, known before any resource)."""
    streams = [StreamRoute(f"dev-{env.name}-ssh", ssh_port(env.name), alias(env), 22, hostname=jupyter_hostname(env, domain))]
    https = []
    if env.jupyter:
        # Host as the browser sent it, port included: Jupyter checks a websocket's Origin against it, and on a
        # proxy port other than 443 the kernel would never connect (found by the browser smoke test)
        https.append(HttpRoute(jupyter_hostname(env, domain), alias(env), JUPYTER_PORT, max_body_size="512m",
                               timeout_seconds=3600, host_header="$http_host"))
    return https, streams


def plan_host_routes(envs: Sequence[DevEnvironmentConfig], domain: str) -> tuple[list[HttpRoute], list[StreamRoute]]:
    """The routes of every environment placed on one host's proxy."""
    http: list[HttpRoute] = []
    streams: list[StreamRoute] = []
    for env in envs:
        h, s = plan_routes(env, domain)
        http += h
        streams += s
    return http, streams


@dataclass
class DevEnvironmentArgs:
    env: DevEnvironmentConfig
    prefix: str
    host: DockerHost  # its front_network: the network its host's proxy shares with it
    domain: str
    https_port: int
    image: docker.RemoteImage  # its environment's image on its host (host.environment())
    mlflow_url: str
    mlflow_password: pulumi.Output[str]  # secret
    ca_pem: pulumi.Output[str]
    rotation: int = 0  # the stack's rotation counter (keys and token generated anew when it changes)


class DevEnvironment(pulumi.ComponentResource):
    ssh_command: pulumi.Output[str]
    jupyter_url: Optional[str]
    private_key: Optional[pulumi.Output[str]]
    jupyter_token: pulumi.Output[str]

    def __init__(self, name: str, args: DevEnvironmentArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("dap:index:DevEnvironment", name, {}, opts)
        env, host = args.env, args.host
        assert host.front_network is not None, "a dev environment's host has a proxy network"
        child = pulumi.ResourceOptions(parent=self)

        if env.ssh_public_keys is None:
            user_key = tls.PrivateKey(f"{name}-user-key", algorithm="ED25519", opts=rotating(args.rotation, child))
            authorized_keys: pulumi.Input[str] = user_key.public_key_openssh
            self.private_key = pulumi.Output.secret(user_key.private_key_openssh)
        else:
            authorized_keys = "\n".join(env.ssh_public_keys) + "\n"
            self.private_key = None
        host_key = tls.PrivateKey(f"{name}-host-key", algorithm="ED25519", opts=rotating(args.rotation, child))
        token = random.RandomPassword(f"{name}-jupyter-token", length=48, special=False, opts=rotating(args.rotation, child))
        self.jupyter_token = token.result
        mlflow_credentials = args.mlflow_password.apply(lambda pw: render_mlflow_credentials("mlflow", pw))

        self.container = make_container(
            f"{name}-container",
            f"{args.prefix}-{alias(env)}",
            ContainerSpec(
                role="dev-environment",
                image=args.image.image_id,
                envs=[
                    f"JUPYTER_ENABLED={'true' if env.jupyter else 'false'}",
                    f"MLFLOW_TRACKING_URI={args.mlflow_url}",
                    f"PGHOST=postgres-data.{args.domain}",
                    f"PGPORT={postgres.PORTS['postgres-data']}",
                    "PGSSLMODE=verify-full",
                    f"PGSSLROOTCERT={SECRETS_DIR}/ca.crt",
                ],
                uploads=[
                    Upload(f"{SECRETS_DIR}/ca.crt", args.ca_pem),
                    Upload(f"{SECRETS_DIR}/ssh_host_ed25519_key", pulumi.Output.secret(host_key.private_key_openssh), mode="0400"),
                    Upload(f"{SECRETS_DIR}/authorized_keys", authorized_keys, mode="0400"),
                    Upload(f"{SECRETS_DIR}/jupyter_token", token.result, mode="0400"),
                    Upload(f"{SECRETS_DIR}/mlflow_credentials", mlflow_credentials, mode="0400"),
                ],
                networks=[NetworkAttachment(host.front_network, [alias(env)])],
                hosts=list(host.platform_hosts),
                healthcheck=["CMD", "/usr/local/bin/dap-dev-healthcheck"],
                memory_mb=env.memory_mb,
                cpus=env.cpus,
            ),
            child,
            docker_host=host.docker_host,
        )
        port = ssh_port(env.name)
        self.ssh_command = pulumi.Output.from_input(f"ssh -p {port} {USER}@{jupyter_hostname(env, args.domain)}")
        self.jupyter_url = public_url(jupyter_hostname(env, args.domain), args.https_port) if env.jupyter else None
        self.host_public_key = host_key.public_key_openssh
        self.register_outputs(
            {
                "sshCommand": self.ssh_command,
                "jupyterUrl": self.jupyter_url,
                "hostPublicKey": self.host_public_key,
            }
        )
