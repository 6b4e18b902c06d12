"""Provisioning steps: the commands pulumi-command runs, executed here against a stand-in `docker` on PATH."""

import os
import subprocess


def run(cmd: str, tmp_path, stdin: str = "", env=None) -> tuple[list[str], str]:
    """Run a step's command with a `docker` that records its arguments and stdin."""
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$LOG.args"\ncat > "$LOG.stdin"\n')
    fake.chmod(0o755)
    log = tmp_path / "call"
    full_env = {"PATH": f"{fake.parent}:{os.environ['PATH']}", "LOG": str(log), **(env or {})}
    res = subprocess.run(["/bin/sh", "-c", cmd], input=stdin, env=full_env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return (log.with_suffix(".args").read_text().splitlines(), log.with_suffix(".stdin").read_text())


def test_exec_runs_the_script_in_the_container_as_the_user_with_secrets_on_stdin(deploy, tmp_path):
    d = deploy(runnerCount=0)
    step = d.named("service-postgres-data-credentials")
    args, _ = run(step.inputs["create"], tmp_path)
    assert args[:6] == ["exec", "-i", "-u", "postgres", "dap-dev-postgres-data", "/bin/sh"]
    assert args[6] == "-c" and args[7].startswith("set -eu")
    assert step.inputs["environment"] == {"DOCKER_HOST": "unix:///var/run/docker.sock"}


def test_delete_step_gets_stdin_then_the_create_output(deploy, tmp_path):
    d = deploy(runnerCount=1)
    step = d.named("runner-1-registration")
    args, stdin = run(step.inputs["delete"], tmp_path, stdin="the-token\n", env={"PULUMI_COMMAND_STDOUT": '{"id": 7}'})
    assert args[:3] == ["exec", "-i", "dap-dev-gitlab"]
    assert stdin == 'the-token\n\n{"id": 7}\n'
    assert "the-token" not in step.inputs["delete"]


def test_host_script_runs_where_pulumi_runs_and_logs_nothing(deploy):
    d = deploy(runnerCount=0, portainer={"enabled": True})
    step = d.named("service-portainer-credentials")
    assert step.inputs["create"].startswith("set -eu\nread -r pw\n")
    assert step.inputs["logging"] == "none"
    assert step.inputs["environment"] == {"DOCKER_HOST": "unix:///var/run/docker.sock"}


def test_an_update_that_keeps_the_output_prints_the_previous_stdout_exactly():
    import subprocess

    from dap_components.docker_exec import KEEP_OUTPUT

    previous = '{"id": 7, "token": "glrt-abc", "token_expires_at": null}'
    res = subprocess.run(["sh", "-c", KEEP_OUTPUT], env={"PULUMI_COMMAND_STDOUT": previous}, capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout == previous


def test_the_runner_registration_keeps_its_token_when_the_admin_token_changes(deploy):
    from dap_components.docker_exec import KEEP_OUTPUT

    reg = deploy(runnerCount=1).named("runner-1-registration")
    assert reg.inputs["update"] == KEEP_OUTPUT
    assert "stdin" not in (reg.raw.get("ignoreChanges") or [])
