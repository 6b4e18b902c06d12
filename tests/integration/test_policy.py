"""The policy pack through the real CLI (`pulumi preview --policy-pack policy`): the dev and ci stacks pass it,
and a stack that breaks one of its rules is stopped, the rule named."""

import pytest

from .conftest import ROOT, make_stack, stack_file_config

pytestmark = pytest.mark.integration
POLICY_PACK = str(ROOT / "policy")


@pytest.mark.parametrize("stack_file", ["dev", "ci"])
def test_the_stack_files_pass_the_policy_pack(project_dir, pulumi_env, stack_file):
    stack = make_stack(project_dir, pulumi_env, stack_file_config(stack_file), prefix=f"policy{stack_file}")
    try:
        result = stack.preview(policy_packs=[POLICY_PACK])
        assert result.change_summary.get("create", 0) > 50
        assert "mandatory" not in result.stdout.lower(), result.stdout[-3000:]
    finally:
        stack.workspace.remove_stack(stack.name, force=True)


def test_a_stack_with_privileged_runners_is_stopped_naming_the_rule(project_dir, pulumi_env):
    from pulumi import automation as auto

    config = {**stack_file_config("ci"), "runner": {"privileged": True}}
    stack = make_stack(project_dir, pulumi_env, config, prefix="policybad")
    try:
        with pytest.raises(auto.errors.CommandError) as exc:
            stack.preview(policy_packs=[POLICY_PACK])
        assert "no-privileged-containers" in str(exc.value)
        assert "runner-1" in str(exc.value)
    finally:
        stack.workspace.remove_stack(stack.name, force=True)
