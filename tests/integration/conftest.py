"""Integration fixtures: the offline toolchain, a file backend in a temp dir, a throwaway copy of the
project (so no stack file lands in the checkout), and a unique stack driven by the Automation API."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = ["Pulumi.yaml", "__main__.py", "dap_components", "environments"]


def toolchain_env() -> dict[str, str]:
    """The offline environment of scripts/pulumi (PATH, PULUMI_HOME, no update check, no plugin download)."""
    res = subprocess.run([str(ROOT / "scripts" / "pulumi"), "--print-env"], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"scripts/pulumi --print-env failed: {res.stderr.strip()}")
    env = {}
    for line in res.stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = value
    return env


def docker_available() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def offline_images() -> dict[str, str]:
    path = ROOT / "images" / "images.yaml"
    return yaml.safe_load(path.read_text())["images"]


def stack_file_config(stack: str) -> dict[str, Any]:
    """The config of Pulumi.<stack>.yaml, keys without the project prefix."""
    values = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in values.items()}


def ci_config() -> dict[str, Any]:
    return stack_file_config("ci")


@pytest.fixture(scope="session")
def pulumi_env(tmp_path_factory) -> dict[str, str]:
    if not docker_available():
        pytest.fail("no Docker engine answers: run `make engine` (scripts/docker-engine.sh)")
    env = toolchain_env()
    backend = tmp_path_factory.mktemp("backend")
    env["PULUMI_BACKEND_URL"] = f"file://{backend}"
    env["PULUMI_CONFIG_PASSPHRASE"] = uuid.uuid4().hex
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    return env


def copy_project(work: Path) -> Path:
    """A copy of the project (so no stack file lands in the checkout) whose venv is the repository's."""
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, work / name)
    (work / "venv").symlink_to(ROOT / "venv")
    return work


@pytest.fixture(scope="session")
def project_dir(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("project"))


def write_stack_config(project_dir: Path, stack_name: str, config: dict[str, Any]) -> None:
    """The stack file as a user writes it: structured YAML values (objects and lists stay objects and lists,
    which the CLI checks against the types Pulumi.yaml declares)."""
    path = project_dir / f"Pulumi.{stack_name}.yaml"
    settings = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}  # keeps encryptionsalt
    settings["config"] = {f"data-analysis-platform:{k}": v for k, v in config.items()}
    path.write_text(yaml.safe_dump(settings, sort_keys=True))


def make_stack(project_dir: Path, pulumi_env: dict[str, str], config: dict[str, Any], prefix: str = "it"):
    from pulumi import automation as auto

    name = f"{prefix}{uuid.uuid4().hex[:6]}"
    bin_dir = Path(pulumi_env["DAP_PULUMI_BIN"])
    cmd = auto.PulumiCommand(root=str(bin_dir.parent), skip_version_check=True)
    stack = auto.create_stack(
        name,
        work_dir=str(project_dir),
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(project_dir), env_vars=pulumi_env, pulumi_home=pulumi_env["PULUMI_HOME"], pulumi_command=cmd
        ),
    )
    write_stack_config(project_dir, name, config)
    return stack


@pytest.fixture(scope="session")
def crane() -> Path:
    """go-containerregistry's crane (the library kaniko pushes with), built from the Go module proxy and cached."""
    res = subprocess.run([str(ROOT / "images" / "build.sh"), "--tool", "crane"], capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-3000:]
    return Path(res.stdout.strip().splitlines()[-1])
