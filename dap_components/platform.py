"""The whole program: stack config -> providers, CA, ServiceHost, RunnerHosts, DevEnvironments, outputs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker

from . import dev_environment as dev
from .config import PlatformConfig, RunnerHostEntry
from .pki import StackPki
from .proxy import HostProxy, HostProxyArgs
from .runner_host import GitLabHandle, RunnerHost, RunnerHostArgs
from .service_host import ServiceHost, ServiceHostArgs


def host_slug(docker_host: str) -> str:
    """A stable resource name for a Docker host, independent of its position in the config."""
    return re.sub(r"[^a-z0-9]+", "-", docker_host.lower().split("://", 1)[-1]).strip("-")[:50] or "local"


@dataclass(frozen=True)
class DockerHostRef:
    key: str  # "service" or the runner host slug
    docker_host: str
    entry: RunnerHostEntry | None  # None for the service host
    address: str | None


def docker_provider(name: str, ref: DockerHostRef) -> docker.Provider:
    entry = ref.entry
    kwargs: dict[str, Any] = {"host": ref.docker_host}
    if entry is not None and entry.ssh_opts:
        kwargs["ssh_opts"] = list(entry.ssh_opts)
    if entry is not None and entry.ca_material:
        kwargs["ca_material"] = entry.ca_material
        kwargs["cert_material"] = entry.cert_material
        kwargs["key_material"] = pulumi.Output.secret(entry.key_material.get_secret_value())  # type: ignore[union-attr]
    return docker.Provider(name, **kwargs)


def build(cfg: PlatformConfig, stack: str) -> dict[str, Any]:
    """Declare every resource of the platform. Returns the stack outputs."""
    prefix = f"dap-{stack}"
    service_ref = DockerHostRef("service", cfg.service_host.docker_host, None, cfg.service_host.address)

    # One provider per distinct Docker host, created for every declared host (used or not), so
    # scaling runnerCount never adds or removes a provider.
    providers: dict[str, docker.Provider] = {cfg.service_host.docker_host: docker_provider("docker-service", service_ref)}
    host_refs: list[DockerHostRef] = []
    for entry in cfg.runner_hosts:
        if entry.docker_host == cfg.service_host.docker_host:
            host_refs.append(service_ref)
            continue
        ref = DockerHostRef(host_slug(entry.docker_host), entry.docker_host, entry, entry.address)
        host_refs.append(ref)
        if entry.docker_host not in providers:
            providers[entry.docker_host] = docker_provider(f"docker-{ref.key}", ref)

    pki = StackPki("stack", cfg.domain, cfg.tls)

    def env_ref(env) -> DockerHostRef:
        return service_ref if env.host == "service" else host_refs[env.host]

    service_http, service_stream = dev.plan_host_routes(
        [e for e in cfg.dev_environments if env_ref(e) is service_ref], cfg.domain
    )

    service = ServiceHost(
        "service",
        ServiceHostArgs(cfg=cfg, pki=pki, prefix=prefix, extra_http_routes=service_http, extra_stream_routes=service_stream),
        opts=pulumi.ResourceOptions(providers=[providers[cfg.service_host.docker_host]]),
    )
    # every name the service host's proxy answers for resolves to it on the other hosts
    platform_hosts = [(name, cfg.service_host.address or "") for name in service.hostnames]

    # A proxy on every other Docker host that has dev environments.
    remote_proxies: dict[str, HostProxy] = {}
    for ref in {r.docker_host: r for r in host_refs if r is not service_ref}.values():
        envs = [e for e in cfg.dev_environments if env_ref(e).docker_host == ref.docker_host]
        if not envs:
            continue
        http_routes, stream_routes = dev.plan_host_routes(envs, cfg.domain)
        remote_proxies[ref.docker_host] = HostProxy(
            f"proxy-{ref.key}",
            HostProxyArgs(
                image_ref=cfg.images.nginx,
                prefix=prefix,
                http_routes=http_routes,
                stream_routes=stream_routes,
                pki=pki,
                docker_host=ref.docker_host,
                publish_address="0.0.0.0",  # reached from other machines, as the service host's proxy is
                https_port=cfg.service_host.https_port,  # the same URLs on every host
                http_port=cfg.service_host.http_port,
                memory_mb=cfg.memory_mb.proxy,
            ),
            opts=pulumi.ResourceOptions(providers=[providers[ref.docker_host]]),
        )

    gitlab = GitLabHandle(
        url=service.urls["gitlab"],
        docker_host=cfg.service_host.docker_host,
        container=service.gitlab.container.name,
        admin_token=service.gitlab.admin_token.result,
        token_ready=service.gitlab.token_ready,
        ca_pem=pki.public_ca_pem,
        route=service.proxy.ready,
    )
    runners = []
    for i in range(cfg.runner_count):
        ref = host_refs[i % len(host_refs)] if host_refs else service_ref
        local = ref is service_ref
        runners.append(
            RunnerHost(
                f"runner-{i + 1}",
                RunnerHostArgs(
                    cfg=cfg,
                    prefix=prefix,
                    docker_host=ref.docker_host,
                    gitlab=gitlab,
                    platform_network=service.front_network if local else None,
                    extra_hosts=() if local else platform_hosts,
                ),
                opts=pulumi.ResourceOptions(providers=[providers[ref.docker_host]]),
            )
        )

    mlflow_password = service.credentials["mlflow-password"]
    envs_out: dict[str, Any] = {}
    env_secrets: dict[str, Any] = {}
    for env in cfg.dev_environments:
        ref = env_ref(env)
        local = ref is service_ref
        network = service.front_network if local else remote_proxies[ref.docker_host].network
        denv = dev.DevEnvironment(
            f"dev-{env.name}",
            dev.DevEnvironmentArgs(
                cfg=cfg,
                env=env,
                prefix=prefix,
                network=network,
                ssh_host=dev.jupyter_hostname(env, cfg.domain),
                mlflow_password=mlflow_password,
                ca_pem=pki.public_ca_pem,
                docker_host=ref.docker_host,
                extra_hosts=() if local else platform_hosts,
            ),
            opts=pulumi.ResourceOptions(providers=[providers[ref.docker_host]]),
        )
        envs_out[env.name] = {
            "ssh": denv.ssh_command,
            "sshUser": dev.USER,
            "sshPort": dev.ssh_port(env.name),
            "jupyterUrl": denv.jupyter_url,
            "hostPublicKey": denv.host_public_key,
        }
        env_secrets[env.name] = {"jupyterToken": denv.jupyter_token}
        if denv.private_key is not None:
            env_secrets[env.name]["privateKey"] = denv.private_key

    return {
        "urls": service.urls,
        "credentials": pulumi.Output.secret(service.credentials),
        "caCertificate": pki.public_ca_pem,
        "internalCaCertificate": pki.ca_pem,
        "runners": [r.runner_name for r in runners],
        "devEnvironments": envs_out,
        "devEnvironmentSecrets": pulumi.Output.secret(env_secrets),
    }
