"""Pulumi.yaml and the stack files with the real Pulumi CLI (built from Go modules): the CLI resolves the
config the program receives, and the program's loader accepts or rejects it. Needs only the CLI binary,
not the language host or plugins."""

import json
import os
import subprocess
import uuid

import pytest
import yaml

from dap_components.config import ConfigError, load_config

from .conftest import ROOT, copy_project

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(tmp_path):
    (tmp_path / "project").mkdir()
    work = copy_project(tmp_path / "project")
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        (work / stack_file.name).write_text(stack_file.read_text())
    (tmp_path / "backend").mkdir()
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'backend'}",
        "PULUMI_CONFIG_PASSPHRASE": uuid.uuid4().hex,
        "DAP_TOOLCHAIN_ALLOW_PARTIAL": "1",  # the CLI alone is enough for config
    }

    def run(*args, check=True):
        res = subprocess.run([str(ROOT / "scripts" / "pulumi"), *args], cwd=work, env=env, capture_output=True, text=True)
        assert res.returncode != 3, f"no Pulumi CLI on this machine: {res.stderr} (make toolchain)"
        if check and res.returncode != 0:
            pytest.fail(f"pulumi {' '.join(args)}: {res.stderr}")
        return res

    run("stack", "init", "dev", "--non-interactive")
    run.work = work
    return run


def resolved(cli) -> dict:
    """The config as the CLI hands it to the program (project defaults merged with the stack's values)."""
    data = json.loads(cli("config", "--json", "--show-secrets", "--stack", "dev").stdout)
    return {k.split(":", 1)[1]: v["value"] for k, v in data.items() if k.startswith("data-analysis-platform:")}


def test_cli_resolves_the_dev_stack_into_valid_config(cli):
    cfg = load_config(resolved(cli))
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    assert cfg.domain == stack["data-analysis-platform:domain"]
    assert cfg.service_host.publish_address == "127.0.0.1" and cfg.runner_count == 1
    assert [e.name for e in cfg.dev_environments] == ["alice"]
    assert cfg.images.gitlab == stack["data-analysis-platform:images"]["gitlab"]
    assert cfg.portainer.enabled is False  # the project default, not set by the stack


def test_path_set_values_arrive_typed(cli):
    cli("config", "set", "--stack", "dev", "--path", "portainer.enabled", "true")
    cli("config", "set", "--stack", "dev", "--path", "runnerHosts[0].dockerHost", "unix:///var/run/docker.sock")
    cli("config", "set", "--stack", "dev", "runnerCount", "3")
    cfg = load_config(resolved(cli))
    assert cfg.portainer.enabled is True and cfg.runner_count == 3
    assert cfg.runner_hosts[0].docker_host == "unix:///var/run/docker.sock"


def test_secret_config_is_encrypted_in_the_stack_file_and_readable_by_the_program(cli):
    token = "glrt-" + uuid.uuid4().hex
    cli("config", "set", "--stack", "dev", "--path", "gitlab.runnerToken", token, "--secret")
    assert token not in (cli.work / "Pulumi.dev.yaml").read_text()
    cfg = load_config(resolved(cli))
    assert cfg.gitlab.runner_token.get_secret_value() == token


def test_bad_value_is_refused_naming_the_key(cli):
    cli("config", "set", "--stack", "dev", "runnerCount", "three")
    with pytest.raises(ConfigError) as exc:
        load_config(resolved(cli))
    assert [k for k, _ in exc.value.problems] == ["runnerCount"]
