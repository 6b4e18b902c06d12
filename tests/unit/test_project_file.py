"""Pulumi.yaml declares every config key, with the model's type and default."""

from pathlib import Path

import pytest
import yaml

from dap_components.config import PROJECT, PlatformConfig, load_config, project_config_schema

ROOT = Path(__file__).resolve().parents[2]


def test_project_file_matches_the_model():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    assert project["config"] == project_config_schema()
    assert set(project["config"]) == {f for f in map(lambda n: __import__("pydantic").alias_generators.to_camel(n), PlatformConfig.model_fields)}


def test_project_defaults_are_valid_config():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    raw = {k: v["default"] for k, v in project["config"].items() if "default" in v}
    cfg = load_config({**raw, "domain": "dap.example.test"})
    assert cfg == load_config({"domain": "dap.example.test"})


def test_stack_files_are_valid():
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        values = yaml.safe_load(stack_file.read_text())["config"]
        raw = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith(f"{PROJECT}:")}
        load_config(raw)  # raises ConfigError naming the key


@pytest.mark.parametrize("stack", ["dev", "ci"])
def test_dev_and_ci_stacks_use_the_offline_image_set(stack):
    images = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]["data-analysis-platform:images"]
    built = yaml.safe_load((ROOT / "images" / "images.yaml").read_text())["images"]
    assert images == built
