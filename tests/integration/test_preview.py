"""`pulumi preview` of the dev stack's configuration with the offline toolchain, on the local engine."""

from collections import Counter

import pytest

from .conftest import make_stack, stack_file_config

pytestmark = pytest.mark.integration

# What one ServiceHost, one RunnerHost and one DevEnvironment declare (the mocks assert the same graph).
PLANNED = {
    "pulumi:pulumi:Stack": 1,
    "pulumi:providers:docker": 1,
    "dap:index:ServiceHost": 1,
    "dap:index:RunnerHost": 1,
    "dap:index:DevEnvironment": 1,
    "dap:index:ProxyRoute": 11,
    "docker:index/container:Container": 10,  # 9 + the watchdog
    "docker:index/network:Network": 4,
    "docker:index/remoteImage:RemoteImage": 10,
    "docker:index/volume:Volume": 9,
    "command:local:Command": 17,  # 7 provisioning steps (the CI variables one included) + a readiness step per container
    "random:index/randomPassword:RandomPassword": 12,
    "tls:index/privateKey:PrivateKey": 6,
    "tls:index/certRequest:CertRequest": 3,
    "tls:index/locallySignedCert:LocallySignedCert": 3,
    "tls:index/selfSignedCert:SelfSignedCert": 1,
}


def dev_config():
    return stack_file_config("dev")


def test_preview_dev_stack_plans_the_platform(project_dir, pulumi_env):
    stack = make_stack(project_dir, pulumi_env, dev_config(), prefix="preview")
    try:
        events = []
        result = stack.preview(on_event=events.append)
        planned = Counter(
            e.resource_pre_event.metadata.type
            for e in events
            if e.resource_pre_event is not None and e.resource_pre_event.metadata.op.value == "create"
        )
        provider_types = {t for t in planned if t.startswith("pulumi:providers:")}
        # default providers of tls/random/command are implicit; docker must be explicit only
        for t in provider_types - {"pulumi:providers:docker"}:
            planned.pop(t)
        assert dict(planned) == PLANNED
        assert result.change_summary.get("create") == sum(PLANNED.values())
    finally:
        stack.workspace.remove_stack(stack.name, force=True)


def test_preview_rejects_bad_config_naming_the_key(project_dir, pulumi_env):
    from pulumi import automation as auto

    stack = make_stack(project_dir, pulumi_env, {**dev_config(), "runnerCount": -3}, prefix="badcfg")
    try:
        with pytest.raises(auto.errors.CommandError) as exc:
            stack.preview()
        assert "runnerCount" in str(exc.value) and "greater than or equal to 0" in str(exc.value)
    finally:
        stack.workspace.remove_stack(stack.name, force=True)
