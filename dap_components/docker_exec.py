"""Provisioning steps run inside a container with `docker exec` (pulumi-command), e.g. creating the
MLflow bucket in MinIO or a runner in GitLab.  Secrets travel on stdin, never on a command line."""

from __future__ import annotations

import shlex
from typing import Optional, Sequence

import pulumi
import pulumi_command as command


KEEP_OUTPUT = 'printf "%s" "$PULUMI_COMMAND_STDOUT"'


def docker_exec(
    resource_name: str,
    *,
    docker_host: str,
    container: pulumi.Input[str],
    script: str,
    user: Optional[str] = None,
    stdin: Optional[pulumi.Input[str]] = None,
    delete_script: Optional[str] = None,
    delete_reads_created_output: bool = False,
    triggers: Optional[Sequence[pulumi.Input[object]]] = None,
    secret_stdout: bool = False,
    update_keeps_output: bool = False,
    opts: pulumi.ResourceOptions,
) -> command.local.Command:
    """Run ``script`` with /bin/sh inside ``container`` on ``docker_host`` (as ``user`` if given); ``delete_script`` runs on delete,
    reading stdin and, with ``delete_reads_created_output``, the create step's output as a last line. With
    ``update_keeps_output`` a change of stdin (or of the scripts) re-runs nothing: the update prints the output the
    step had, so it keeps it (pulumi-command hands the previous stdout to the update as PULUMI_COMMAND_STDOUT)."""

    def wrap(body: str, with_created_output: bool = False) -> pulumi.Output[str]:
        def cmd(name: str) -> str:
            as_user = f"-u {shlex.quote(user)} " if user else ""
            run = f"docker exec -i {as_user}{shlex.quote(name)} /bin/sh -c {shlex.quote(body)}"
            if with_created_output:
                # stdin, then the create step's output as one more line (pulumi-command sets
                # PULUMI_COMMAND_STDOUT on delete); both stay off every command line.
                return f'{{ cat; printf "\\n%s\\n" "$PULUMI_COMMAND_STDOUT"; }} | {run}'
            return run

        return pulumi.Output.from_input(container).apply(cmd)

    extra = pulumi.ResourceOptions(additional_secret_outputs=["stdout", "stderr"]) if secret_stdout else None
    return command.local.Command(
        resource_name,
        create=wrap(script),
        delete=wrap(delete_script, delete_reads_created_output) if delete_script else None,
        update=KEEP_OUTPUT if update_keeps_output else None,
        stdin=stdin,
        environment={"DOCKER_HOST": docker_host},
        triggers=list(triggers) if triggers else None,
        logging=command.local.Logging.NONE if secret_stdout else command.local.Logging.STDOUT_AND_STDERR,
        opts=pulumi.ResourceOptions.merge(opts, extra) if extra else opts,
    )


def docker_host_script(
    resource_name: str,
    *,
    docker_host: str,
    script: pulumi.Input[str],
    stdin: Optional[pulumi.Input[str]] = None,
    triggers: Optional[Sequence[pulumi.Input[object]]] = None,
    opts: pulumi.ResourceOptions,
) -> command.local.Command:
    """Run ``script`` with /bin/sh where Pulumi runs, its `docker` commands aimed at ``docker_host``: for steps
    around containers that have no shell of their own. Secrets travel on stdin; the output is not logged."""
    return command.local.Command(
        resource_name,
        create=script,
        stdin=stdin,
        environment={"DOCKER_HOST": docker_host},
        triggers=list(triggers) if triggers else None,
        logging=command.local.Logging.NONE,
        opts=opts,
    )
