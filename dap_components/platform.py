"""The whole program: stack config -> Docker hosts, CA, ServiceHost, RunnerHosts, DevEnvironments, outputs."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_command as command

from . import dev_environment as dev
from . import upgrades, watchdog
from .config import PlatformConfig
from .host import Hosts
from .pki import StackPki
from .proxy import HostProxy, HostProxyArgs
from .runner_host import GitLabHandle, RunnerHost, RunnerHostArgs
from .service_host import ServiceHost, ServiceHostArgs


def build(cfg: PlatformConfig, stack: str, previous: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Declare every resource of the platform. ``previous``: the `versions` this stack last deployed. Returns the
    stack outputs."""
    previous = previous or {}
    prefix = f"dap-{stack}"
    hosts = Hosts.from_config(cfg)
    pki = StackPki("stack", cfg.domain, cfg.tls, rotation=cfg.rotation)
    # A GitLab version change: a step carrying both versions, which the policy pack checks against GitLab's
    # required upgrade stops; the service host waits for it, so a refused upgrade touches nothing there.
    upgrade = upgrades.gitlab_upgrade(previous, cfg)
    gate = (
        command.local.Command(
            "gitlab-upgrade",
            create="true",
            environment={"DAP_GITLAB_FROM": upgrade[0], "DAP_GITLAB_TO": upgrade[1]},
        )
        if upgrade
        else None
    )
    envs_on = {h: [e for e in cfg.dev_environments if hosts.for_environment(e.host) is h] for h in [hosts.service, *hosts.others]}

    # The service host: its proxy also serves the dev environments placed there.
    http, streams = dev.plan_host_routes(envs_on[hosts.service], cfg.domain)
    service = ServiceHost(
        "service",
        ServiceHostArgs(cfg=cfg, pki=pki, prefix=prefix, extra_http_routes=http, extra_stream_routes=streams),
        opts=pulumi.ResourceOptions.merge(hosts.service.opts, pulumi.ResourceOptions(depends_on=[gate] if gate else [])),
    )
    hosts.service.front_network = hosts.service.runner_network = service.front_network
    on_host: dict[str, list[pulumi.Resource]] = {hosts.service.key: [service]}  # what each host's watchdog guards
    # Every other host: the service proxy's names resolve to the service host, and a proxy of its own serves
    # the dev environments placed there.
    for host in hosts.others:
        host.platform_hosts = [(name, cfg.service_host.address or "") for name in service.hostnames]
        if envs_on[host]:
            http, streams = dev.plan_host_routes(envs_on[host], cfg.domain)
            proxy = HostProxy(
                f"proxy-{host.key}",
                HostProxyArgs(
                    image_ref=cfg.images.nginx,
                    prefix=prefix,
                    http_routes=http,
                    stream_routes=streams,
                    pki=pki,
                    docker_host=host.docker_host,
                    publish_address="0.0.0.0",  # reached from other machines, as the service host's proxy is
                    https_port=cfg.service_host.https_port,  # the same URLs on every host
                    http_port=cfg.service_host.http_port,
                    memory_mb=cfg.memory_mb.proxy,
                ),
                opts=host.opts,
            )
            host.front_network = proxy.network
            on_host.setdefault(host.key, []).append(proxy)

    gitlab = GitLabHandle(
        url=service.urls["gitlab"],
        docker_host=hosts.service.docker_host,
        container=service.gitlab.container.name,
        admin_token=service.gitlab.admin_token.result,
        token_ready=service.gitlab.token_ready,
        ca_pem=pki.public_ca_pem,
        route=service.proxy.ready,
    )
    runners = []
    for i in range(cfg.runner_count):
        host = hosts.for_runner(i)
        for environment in cfg.runner.job_environments:  # the images jobs name by $DAP_IMAGE_..., on every runner host
            host.environment(environment, cfg.images)
        runner = RunnerHost(
            f"runner-{i + 1}",
            RunnerHostArgs(
                runner=cfg.runner,
                image=cfg.images.gitlab_runner,
                job_image=cfg.images.job_default,
                mlflow_url=service.urls["mlflow"],
                memory_mb=cfg.memory_mb.gitlab_runner,
                runner_token=cfg.gitlab.runner_token,
                prefix=prefix,
                host=host,
                gitlab=gitlab,
            ),
            opts=host.opts,
        )
        runners.append(runner)
        on_host.setdefault(host.key, []).append(runner)

    envs_out: dict[str, Any] = {}
    env_secrets: dict[str, Any] = {}
    for env in cfg.dev_environments:
        host = hosts.for_environment(env.host)
        denv = dev.DevEnvironment(
            f"dev-{env.name}",
            dev.DevEnvironmentArgs(
                env=env,
                prefix=prefix,
                host=host,
                domain=cfg.domain,
                https_port=cfg.service_host.https_port,
                image=host.environment(env.image, cfg.images),
                mlflow_url=service.urls["mlflow"],
                mlflow_password=service.credentials["mlflow-password"],
                ca_pem=pki.public_ca_pem,
                rotation=cfg.rotation,
            ),
            opts=host.opts,
        )
        on_host.setdefault(host.key, []).append(denv)
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

    if cfg.watchdog.enabled:
        for host in [hosts.service, *hosts.others]:
            if on_host.get(host.key):
                watchdog.declare(host, prefix, cfg.images.watchdog, cfg.watchdog, on_host[host.key])

    return {
        "urls": service.urls,
        "credentials": pulumi.Output.secret(service.credentials),
        "caCertificate": pki.public_ca_pem,
        "internalCaCertificate": pki.ca_pem,
        "runners": [r.runner_name for r in runners],
        "devEnvironments": envs_out,
        "devEnvironmentSecrets": pulumi.Output.secret(env_secrets),
        "versions": upgrades.current_versions(cfg, previous),
    }
