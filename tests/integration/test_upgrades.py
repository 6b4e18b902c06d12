"""Upgrades refused through the real CLI, on a stack whose last deployment is imported (its `versions` output says
what the data was written with): a PostgreSQL major-version change stops `preview` and `up` before anything
changes, naming the procedure; a GitLab upgrade that skips a required stop is stopped by the policy pack, naming
the stop. (A service image change that is allowed is deployed for real in test_operations.py.)"""

from __future__ import annotations

import pytest

from .conftest import ROOT, ci_config, make_stack

pytestmark = pytest.mark.integration
POLICY_PACK = str(ROOT / "policy")


def stack_deployed_with(project_dir, pulumi_env, versions: dict, **images: str):
    """A stack whose last deployment exported ``versions`` (its state: the stack resource and those outputs)."""
    from pulumi.automation import Deployment

    cfg = ci_config()
    stack = make_stack(project_dir, pulumi_env, {**cfg, "domain": "dap-upg.test", "runnerCount": 0,
                                                 "images": {**cfg["images"], **images}}, prefix="upg")
    urn = f"urn:pulumi:{stack.name}::data-analysis-platform::pulumi:pulumi:Stack::data-analysis-platform-{stack.name}"
    exported = stack.export_stack()
    stack.import_stack(Deployment(version=3, deployment={
        **exported.deployment,
        "resources": [{"urn": urn, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": {"versions": versions}}],
    }))
    return stack


def resources_in_state(stack) -> list[str]:
    return [r["type"] for r in stack.export_stack().deployment.get("resources", [])]


def test_a_postgres_major_version_change_is_refused_before_anything_changes(project_dir, pulumi_env):
    from pulumi import automation as auto

    stack = stack_deployed_with(project_dir, pulumi_env, {"postgresMajor": 15}, postgres="dap-offline/postgres:16.9")
    try:
        for run in (stack.preview, stack.up):
            with pytest.raises(auto.errors.CommandError) as exc:
                run()
            text = str(exc.value)
            assert "images.postgres: 'dap-offline/postgres:16.9' is PostgreSQL 16" in text
            assert "created with PostgreSQL 15" in text and "back up this stack" in text
        # nothing was created, replaced or deleted (the engine's own provider is what read the last deployment)
        assert set(resources_in_state(stack)) <= {"pulumi:pulumi:Stack", "pulumi:providers:pulumi"}
    finally:
        stack.workspace.remove_stack(stack.name, force=True)


def test_the_policy_pack_stops_a_gitlab_upgrade_that_skips_a_required_stop(project_dir, pulumi_env):
    from pulumi import automation as auto

    stack = stack_deployed_with(project_dir, pulumi_env, {"postgresMajor": 15, "gitlab": "17.9.2"},
                                gitlab="gitlab/gitlab-ce:18.5.1-ce.0")
    try:
        with pytest.raises(auto.errors.CommandError) as exc:
            stack.preview(policy_packs=[POLICY_PACK])
        text = str(exc.value)
        assert "gitlab-upgrade-stops" in text and "skips the required upgrade stop 17.11" in text
        assert "17.11, 18.2" in text
    finally:
        stack.workspace.remove_stack(stack.name, force=True)


def test_the_next_required_stop_is_allowed(project_dir, pulumi_env):
    stack = stack_deployed_with(project_dir, pulumi_env, {"postgresMajor": 15, "gitlab": "17.9.2"},
                                gitlab="gitlab/gitlab-ce:17.11.7-ce.0")
    try:
        result = stack.preview(policy_packs=[POLICY_PACK])
        assert "mandatory" not in result.stdout.lower(), result.stdout[-3000:]
        assert "gitlab-upgrade" in result.stdout
    finally:
        stack.workspace.remove_stack(stack.name, force=True)
