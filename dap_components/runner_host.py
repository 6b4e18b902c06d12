"""RunnerHost: one gitlab-runner (docker executor) on a Docker host, registered with GitLab by the program."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker
from pydantic import SecretStr

from .config import RunnerConfig
from .containers import ContainerSpec, NetworkAttachment, Upload, make_container
from .docker_exec import docker_exec
from .host import DockerHost
from .render.runner import CA_DIR, CA_FILE, CONFIG_DIR, RunnerSettings, render_config_toml


def registration_script(description: str, run_untagged: bool, tags: Sequence[str]) -> str:
    """Create an instance runner through the API (runner authentication token, glrt-...)."""
    args = [
        "--data runner_type=instance_type",
        f"--data-urlencode description={json.dumps(description)}",
        f"--data run_untagged={'true' if run_untagged else 'false'}",
    ]
    if tags:
        args.append(f"--data-urlencode tag_list={json.dumps(','.join(tags))}")
    return (
        "set -eu\n"
        "read -r token\n"
        'curl -sS --fail -X POST -H "PRIVATE-TOKEN: $token" '
        + " ".join(args)
        + " http://127.0.0.1/api/v4/user/runners\n"
    )


UNREGISTER_SCRIPT = (
    "set -u\n"
    "read -r token\n"
    "created=''\n"
    'while [ -z "$created" ] && read -r created; do :; done\n'  # the create output: the next non-empty line
    "id=$(printf '%s' \"$created\" | sed -n 's/.*\"id\": *\\([0-9][0-9]*\\).*/\\1/p')\n"
    '[ -n "$id" ] || exit 0\n'
    'curl -sS -o /dev/null -w "%{http_code}" -X DELETE -H "PRIVATE-TOKEN: $token" '
    'http://127.0.0.1/api/v4/runners/$id | grep -qE "^(204|404)$"\n'
)


@dataclass
class GitLabHandle:
    """What a RunnerHost needs from the ServiceHost's GitLab."""

    url: str
    docker_host: str  # where the GitLab container runs (for docker exec)
    container: pulumi.Output[str]
    admin_token: pulumi.Output[str]  # secret
    token_ready: pulumi.Resource
    ca_pem: pulumi.Output[str]
    route: pulumi.Resource  # the proxy serving https://gitlab.<domain>: the runner's health depends on it


@dataclass
class RunnerHostArgs:
    runner: RunnerConfig
    image: str  # gitlab-runner
    job_image: str  # the default image of CI jobs
    mlflow_url: str  # jobs get it as MLFLOW_TRACKING_URI (the credentials are GitLab instance variables)
    memory_mb: int
    runner_token: Optional[SecretStr]  # a given glrt- token instead of registering through the API
    prefix: str
    host: DockerHost
    gitlab: GitLabHandle


class RunnerHost(pulumi.ComponentResource):
    runner_name: str
    token: pulumi.Output[str]

    def __init__(self, name: str, args: RunnerHostArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("dap:index:RunnerHost", name, {}, opts)
        runner, host = args.runner, args.host
        child = pulumi.ResourceOptions(parent=self)
        self.runner_name = f"{args.prefix}-{name}"

        if args.runner_token is not None:
            self.token = pulumi.Output.secret(args.runner_token.get_secret_value())
        else:
            registration = docker_exec(
                f"{name}-registration",
                docker_host=args.gitlab.docker_host,
                container=args.gitlab.container,
                script=registration_script(self.runner_name, runner.run_untagged, runner.tags),
                stdin=pulumi.Output.concat(args.gitlab.admin_token, "\n"),
                delete_script=UNREGISTER_SCRIPT,
                delete_reads_created_output=True,
                secret_stdout=True,
                # A new admin token (rotation) only updates the stored stdin, which the unregistration reads: the
                # update keeps the registration's output (the runner's token) instead of registering again.
                update_keeps_output=True,
                triggers=[self.runner_name, host.docker_host],
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[args.gitlab.token_ready])),
            )
            self.token = pulumi.Output.secret(registration.stdout.apply(lambda out: json.loads(out)["token"]))

        if host.runner_network is not None:
            network = host.runner_network
        else:
            network = docker.Network(
                f"{name}-net", name=f"{self.runner_name}", driver="bridge", opts=child
            ).name
        not_state = [docker.VolumeLabelArgs(label="dap.state", value="false")]
        ca_volume = docker.Volume(f"{name}-ca", name=f"{self.runner_name}-ca", labels=not_state, opts=child)
        cache_volume = docker.Volume(f"{name}-cache", name=f"{self.runner_name}-cache", labels=not_state, opts=child)
        extra_hosts = [f"{h}:{ip}" for h, ip in host.platform_hosts]
        config_toml = pulumi.Output.all(self.token, network, ca_volume.name, cache_volume.name).apply(
            lambda v: render_config_toml(
                RunnerSettings(
                    name=self.runner_name,
                    url=args.gitlab.url,
                    token=v[0],
                    concurrency=runner.concurrency,
                    default_image=args.job_image,
                    mlflow_url=args.mlflow_url,
                    ca_volume=v[2],
                    cache_volume=v[3],
                    privileged=runner.privileged,
                    gpus=runner.gpus,
                    job_memory_mb=runner.job_memory_mb,
                    job_cpus=runner.job_cpus,
                    network_mode=v[1] if host.runner_network is not None else None,
                    extra_hosts=extra_hosts,
                )
            )
        )
        image = host.image(args.image)
        self.container = make_container(
            f"{name}-runner",
            self.runner_name,
            ContainerSpec(
                role="gitlab-runner",
                image=image.image_id,
                uploads=[
                    Upload(f"{CONFIG_DIR}/config.toml", pulumi.Output.secret(config_toml), mode="0600"),
                    Upload(CA_FILE, args.gitlab.ca_pem),
                ],
                volumes=[(ca_volume.name, CA_DIR)],
                binds=[("/var/run/docker.sock", "/var/run/docker.sock", False)],
                networks=[NetworkAttachment(network)],
                hosts=list(host.platform_hosts),
                healthcheck=["CMD", "gitlab-runner", "verify", "--config", f"{CONFIG_DIR}/config.toml"],
                health_interval=30,  # `gitlab-runner verify` calls GitLab
                health_start_period=30,
                memory_mb=args.memory_mb,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[args.gitlab.route]),
            docker_host=host.docker_host,
        )
        self.register_outputs({"runnerName": self.runner_name, "dockerHost": host.docker_host})
