"""environments/.gitlab-ci.yml: the CI template that builds the dev environments with kaniko and pushes them to
the project's registry. Its jobs follow the environments the program knows (and their FROM chain); its script is
run here with a recording stand-in for /kaniko/executor to check what kaniko is asked to do. The push itself is
exercised for real in the e2e (test_19g)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from dap_components.config import ENVIRONMENTS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "environments" / ".gitlab-ci.yml"
UNSET = "$DAP_IMAGE_KANIKO == null || $DAP_IMAGE_KANIKO == \"\""


@pytest.fixture(scope="module")
def ci() -> dict:
    return yaml.safe_load(TEMPLATE.read_text())


def test_one_job_per_environment_built_after_the_environment_it_starts_from(ci):
    jobs = {k: v for k, v in ci.items() if isinstance(v, dict) and v.get("extends") == ".kaniko"}
    assert set(jobs) == set(ENVIRONMENTS)
    for env, parent in ENVIRONMENTS.items():
        job = jobs[env]
        assert job["variables"]["ENVIRONMENT"] == env and (ROOT / "environments" / env / "Dockerfile").is_file()
        if parent is None:
            assert "needs" not in job and job["variables"]["BASE_IMAGE"] == "$DAP_ENV_BASE_IMAGE"
        else:  # FROM the image its parent's job pushed in the same pipeline
            assert job["needs"] == [parent]
            assert job["variables"]["BASE_IMAGE"] == f"$CI_REGISTRY_IMAGE/{parent}:$DAP_ENV_TAG"


def test_jobs_use_the_kaniko_image_the_platform_names_and_stop_clearly_without_it(ci):
    kaniko = ci[".kaniko"]
    assert kaniko["image"] == {"name": "$DAP_IMAGE_KANIKO", "entrypoint": [""]}
    assert kaniko["rules"][0] == {"if": UNSET, "when": "never"}
    check = ci["kaniko-image-missing"]
    assert check["rules"] == [{"if": UNSET}] and check["stage"] == "check" and "images.kaniko" in check["script"][0]
    assert check["script"][-1] == "exit 1"
    assert ci["variables"]["DAP_ENV_TAG"] == "$CI_COMMIT_SHORT_SHA"
    assert ":latest" not in yaml.safe_dump(ci)  # pushed by commit (and tag name), never as latest


def run_job(ci, tmp_path: Path, env: str, **extra: str) -> tuple[subprocess.CompletedProcess, list[str], dict]:
    """The job's script under sh, with /kaniko moved to tmp_path and an executor that records its arguments."""
    kaniko = tmp_path / "kaniko"
    kaniko.mkdir()
    executor = kaniko / "executor"
    executor.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$(dirname "$0")/args"\n'
                        'printf "sha256:%064d" 7 > "$(dirname "$(dirname "$0")")/project/$ENVIRONMENT.digest"\n')
    executor.chmod(0o755)
    (tmp_path / "project").mkdir()
    job = ci[env]
    variables = {**ci["variables"], **job["variables"], "CI_COMMIT_SHORT_SHA": "0123abcd", "CI_COMMIT_SHA": "0123abcd" * 5,
                 "CI_REGISTRY": "registry.dap.test:8443", "CI_REGISTRY_IMAGE": "registry.dap.test:8443/ds/environments",
                 "CI_REGISTRY_USER": "gitlab-ci-token", "CI_REGISTRY_PASSWORD": "job-token-s3cr3t",
                 "CI_PROJECT_DIR": str(tmp_path / "project"), "CI_PROJECT_URL": "https://gitlab.dap.test:8443/ds/environments",
                 "DAP_CA_FILE": "/etc/dap/ca/ca.crt", "PATH": "/usr/bin:/bin", **extra}
    # GitLab expands variables that reference variables before the job starts
    for _ in range(3):
        variables = {k: subprocess.run(["sh", "-c", f'printf %s "{v}"'], env={kk: vv for kk, vv in variables.items() if kk != k},
                                       capture_output=True, text=True).stdout for k, v in variables.items()}
    script = "set -eu\n" + "\n".join(ci[".kaniko"]["script"]).replace("/kaniko", str(kaniko)) + "\n"
    res = subprocess.run(["sh", "-c", script], env=variables, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    args = (kaniko / "args").read_text().splitlines()
    return res, args, json.loads((kaniko / ".docker" / "config.json").read_text())


def flag_values(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def test_the_job_builds_its_context_trusts_the_platform_ca_and_pushes_the_commit_tag(ci, tmp_path):
    res, args, auth = run_job(ci, tmp_path, "dev-python-r")
    project = tmp_path / "project"
    assert flag_values(args, "--context") == [f"{project}/./dev-python-r"]
    assert flag_values(args, "--dockerfile") == [f"{project}/./dev-python-r/Dockerfile"]
    assert flag_values(args, "--registry-certificate") == ["registry.dap.test:8443=/etc/dap/ca/ca.crt"]
    assert flag_values(args, "--build-arg") == ["BASE_IMAGE=registry.dap.test:8443/ds/environments/dev-python:0123abcd"]
    assert flag_values(args, "--destination") == ["registry.dap.test:8443/ds/environments/dev-python-r:0123abcd"]
    assert auth == {"auths": {"registry.dap.test:8443": {"username": "gitlab-ci-token", "password": "job-token-s3cr3t"}}}
    assert "job-token-s3cr3t" not in res.stdout + res.stderr  # only in kaniko's auth file
    assert res.stdout.strip() == f"pushed registry.dap.test:8443/ds/environments/dev-python-r:0123abcd@sha256:{7:064d}"


def test_without_a_base_image_the_dockerfile_default_applies_and_tags_push_a_second_name(ci, tmp_path):
    _, args, _ = run_job(ci, tmp_path, "dev-python", CI_COMMIT_TAG="v1.2.0", DAP_ENV_DIR="environments")
    assert flag_values(args, "--build-arg") == []
    assert flag_values(args, "--context") == [f"{tmp_path}/project/environments/dev-python"]
    assert flag_values(args, "--destination") == [
        "registry.dap.test:8443/ds/environments/dev-python:0123abcd",
        "registry.dap.test:8443/ds/environments/dev-python:v1.2.0",
    ]
