"""GitLab CE (Omnibus): HTTPS, registry and Git-over-SSH through the platform proxy; the admin token
that runner registration needs is minted by the program inside the container."""

from __future__ import annotations

from typing import Mapping

import pulumi

from ..containers import ContainerSpec, NetworkAttachment, Upload, make_container, pinned_image
from ..docker_exec import docker_exec
from ..render.gitlab import (
    REGISTRY_PORT,
    ROOT_PASSWORD_FILE,
    SET_CI_VARIABLES_SCRIPT,
    delete_ci_variables_script,
    render_ci_variables_input,
    render_gitlab_rb,
)
from ..routes import HttpRoute, StreamRoute
from .base import HostContext, ServiceResult

ALIAS = "gitlab"
SSH_PORT = 2222
GITLAB_RB = "/etc/dap/gitlab.rb"

# Runs in `gitlab-rails runner` on every new container: the root password is set from the uploaded file
# (GitLab reads initial_root_password on its first boot only, so retained data would keep an old one), and
# the admin token value arrives on stdin. Neither is ever printed.
BOOTSTRAP_RUBY = (
    "t = STDIN.read.strip; u = User.find_by_username('root'); "
    f"pw = File.read('{ROOT_PASSWORD_FILE}').strip; u.password = pw; u.password_confirmation = pw; "
    "u.password_automatically_set = false; u.save!; "
    "u.personal_access_tokens.where(name: 'dap-automation').each(&:revoke!); "
    "pat = u.personal_access_tokens.build(name: 'dap-automation', scopes: ['api', 'create_runner', 'manage_runner'], "
    "expires_at: 365.days.from_now); pat.set_token(t); pat.save!; puts 'admin token ready'"
)


class GitLab:
    def __init__(self, ctx: HostContext):
        self._ctx = ctx
        self.root_password = ctx.password("gitlab", "root-password")
        self.admin_token = ctx.password("gitlab", "admin-pat", length=40)
        trusted = ctx.networks["web"].ipam_configs.apply(lambda cfgs: [c.subnet for c in cfgs or [] if c.subnet])
        gitlab_rb = trusted.apply(lambda cidrs: render_gitlab_rb(ctx.public_url("gitlab"), ctx.public_url("registry"), SSH_PORT, cidrs))
        volumes = {p: ctx.volume("gitlab", p) for p in ("config", "logs", "data")}
        image = pinned_image(f"{ctx.name}-gitlab-image", ctx.cfg.images.gitlab, ctx.opts)
        self.container = make_container(
            f"{ctx.name}-gitlab",
            ctx.container_name("gitlab"),
            ContainerSpec(
                role="gitlab",
                image=image.image_id,
                envs=[f"GITLAB_OMNIBUS_CONFIG=from_file('{GITLAB_RB}')"],
                uploads=[
                    Upload(GITLAB_RB, gitlab_rb),
                    Upload(ROOT_PASSWORD_FILE, self.root_password.result, mode="0400"),
                ],
                volumes=[
                    (volumes["config"].name, "/etc/gitlab"),
                    (volumes["logs"].name, "/var/log/gitlab"),
                    (volumes["data"].name, "/var/opt/gitlab"),
                ],
                networks=[NetworkAttachment(ctx.network_name("web"), [ALIAS])],
                healthcheck=["CMD", "/opt/gitlab/bin/gitlab-healthcheck", "--fail", "--max-time", "10"],
                health_interval=30,
                health_start_period=600,
                health_retries=10,
                wait_timeout=1500,
                shm_size_mb=256,
                memory_mb=ctx.cfg.memory_mb.gitlab,
            ),
            ctx.opts,
            docker_host=ctx.docker_host,
        )
        # One admin personal access token (value generated here, set inside GitLab) for the API calls
        # that register runners. Reruns when the GitLab container is replaced.
        self.token_ready = ctx.step_in(
            self.container,
            f"{ctx.name}-gitlab-admin-token",
            f"gitlab-rails runner \"{BOOTSTRAP_RUBY}\"",
            stdin=self.admin_token.result,
        )
        self.service = ServiceResult(
            container=self.container,
            http_routes=[
                HttpRoute(ctx.fqdn("gitlab"), ALIAS, 80, max_body_size="512m", timeout_seconds=300),
                HttpRoute(ctx.fqdn("registry"), ALIAS, REGISTRY_PORT, max_body_size="0", buffering=False, timeout_seconds=900),
            ],
            stream_routes=[StreamRoute("gitlab-ssh", SSH_PORT, ALIAS, 22, hostname=ctx.fqdn("gitlab"))],
            urls={
                "gitlab": ctx.public_url("gitlab"),
                "registry": ctx.public_url("registry"),
                "gitlab-ssh": f"ssh://git@{ctx.fqdn('gitlab')}:{SSH_PORT}",
            },
            credentials={"gitlab-root-username": "root", "gitlab-root-password": self.root_password.result},
        )

    def instance_variables(self, variables: Mapping[str, tuple[pulumi.Input[str], bool]]) -> pulumi.Resource:
        """Instance CI/CD variables (key -> (value, masked)): every job of every project gets them, masked ones
        hidden in job logs. Set through the admin API with the program's token once it exists, again when a value
        changes or the GitLab container is replaced, and removed with the stack."""
        keys = sorted(variables)
        stdin = pulumi.Output.all(self.admin_token.result, *(variables[k][0] for k in keys)).apply(
            lambda v: render_ci_variables_input(v[0], [(k, val, variables[k][1]) for k, val in zip(keys, v[1:])])
        )
        ctx = self._ctx
        return docker_exec(
            f"{ctx.name}-gitlab-ci-variables",
            docker_host=ctx.docker_host,
            container=self.container.name,
            script=SET_CI_VARIABLES_SCRIPT,
            stdin=pulumi.Output.secret(stdin),
            delete_script=delete_ci_variables_script(keys),
            triggers=[self.container.id],
            opts=ctx.after(self.token_ready),
        )
