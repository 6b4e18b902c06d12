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


VIOLATING_PROGRAM = """
import pulumi_docker as docker

provider = docker.Provider("local", host="unix:///var/run/docker.sock")
docker.Container(
    "bad",
    name="policy-bad",
    image="dap-offline/debian-base:bookworm",
    privileged=True,
    ports=[docker.ContainerPortArgs(internal=80, external=18099)],
    envs=["DB_PASSWORD=plain-text"],
    labels=[docker.ContainerLabelArgs(label="dap.role", value="mlflow")],
    opts=pulumi.ResourceOptions(provider=provider),
)
"""


def test_a_stack_that_breaks_the_rules_is_stopped_naming_them(tmp_path, pulumi_env):
    """A program declaring what the rules forbid (the platform's own program cannot be configured into it)."""
    from pulumi import automation as auto

    work = tmp_path / "bad"
    work.mkdir()
    (work / "Pulumi.yaml").write_text(
        "name: policy-violation\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: venv\n"
    )
    (work / "__main__.py").write_text("import pulumi\n" + VIOLATING_PROGRAM)
    (work / "venv").symlink_to(ROOT / "venv")
    stack = make_stack(work, pulumi_env, {}, prefix="policybad")
    try:
        with pytest.raises(auto.errors.CommandError) as exc:
            stack.preview(policy_packs=[POLICY_PACK])
        text = str(exc.value)
        for rule in ("no-privileged-containers", "host-ports-only-on-proxies", "secrets-as-files",
                     "long-running-container-guarantees", "hardened-containers"):
            assert rule in text, rule
    finally:
        stack.workspace.remove_stack(stack.name, force=True)
