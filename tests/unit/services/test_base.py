"""services/base.py: what HostContext gives every service (names, state volumes, generated secrets, ordering)
and the ServiceResult each one returns."""

import pulumi
import pulumi_docker as docker

from tests.unit.helpers import host_context

from dap_components import render
from dap_components.services import base
from dap_components.services.base import ServiceResult


def test_names(program):
    run = program(lambda: {"ctx": host_context(prefix="dap-prod", domain="data.example.org")})
    ctx = run.objects["ctx"]
    assert ctx.domain == "data.example.org"
    assert ctx.fqdn("gitlab") == "gitlab.data.example.org"
    assert ctx.container_name("gitlab") == "dap-prod-gitlab"
    assert ctx.public_url("gitlab") == "https://gitlab.data.example.org"


def test_public_urls_carry_a_non_default_https_port(program):
    run = program(lambda: {"ctx": host_context(serviceHost={"httpsPort": 8443})})
    assert run.objects["ctx"].public_url("mlflow") == "https://mlflow.dap.example.test:8443"


def test_state_volume_outlives_destroy_and_says_so_in_its_labels(program):
    run = program(lambda: {"vol": host_context(name="svc", prefix="dap-t").volume("postgres-data", "data").name})
    vol = run.named("svc-postgres-data-data")
    assert vol.inputs["name"] == "dap-t-postgres-data-data" and run.outputs["vol"][0] == "dap-t-postgres-data-data"
    assert vol.retain_on_delete is True
    assert {lab["label"]: lab["value"] for lab in vol.inputs["labels"]} == {
        "dap.role": "postgres-data", "dap.state": "true", "dap.retain-on-delete": "true",
    }
    assert vol.parent_name == "svc"  # a child of the host component, through its options


def test_generated_passwords_are_safe_in_urls_env_and_shell(program):
    def fn():
        ctx = host_context(name="svc")
        ctx.password("gitlab", "root-password")
        ctx.password("gitlab", "admin-pat", length=40)

    run = program(fn)
    default, long = run.named("svc-gitlab-root-password"), run.named("svc-gitlab-admin-pat")
    assert default.inputs["length"] == 32 and long.inputs["length"] == 40
    for pw in (default, long):
        i = pw.inputs
        assert i["special"] is True and i["overrideSpecial"] == "-_"  # no quote, $, :, @, / or space
        assert (i["minLower"], i["minUpper"], i["minNumeric"]) == (2, 2, 2)
        assert pw.parent_name == "svc"


def test_after_adds_dependencies_and_keeps_parent_and_provider(program):
    def fn():
        provider = docker.Provider("docker-x", host="unix:///var/run/docker.sock")
        parent = pulumi.ComponentResource("test:index:Host", "svc", {}, None)
        ctx = host_context(name="other")
        ctx.opts = pulumi.ResourceOptions(parent=parent, providers=[provider])
        first = ctx.password("a", "b")
        second = ctx.volume("a", "data")
        docker.Network("waits", opts=ctx.after(first, second))

    run = program(fn)
    waits = run.named("waits")
    assert set(waits.depends_on) == {run.named("other-a-b").urn, run.named("other-a-data").urn}
    assert waits.parent_name == "svc" and waits.provider_name == "docker-x"


def test_network_name_by_purpose(program):
    def fn():
        ctx = host_context(prefix="dap-t")
        return {p: ctx.network_name(p) for p in ("front", "web", "db", "storage")}

    run = program(fn)
    assert {p: v for p, (v, _) in run.outputs.items()} == {
        "front": "dap-t-front", "web": "dap-t-web", "db": "dap-t-db", "storage": "dap-t-storage",
    }


def test_service_result_defaults_are_empty_and_not_shared():
    a, b = ServiceResult(container=None), ServiceResult(container=None)
    assert a.ready is None
    assert (a.http_routes, a.stream_routes, a.urls, a.credentials, a.htpasswd) == ([], [], {}, {}, {})
    a.http_routes.append("x")
    a.urls["k"] = "v"
    assert b.http_routes == [] and b.urls == {}


def test_secrets_dir_is_the_one_of_the_renderers():
    assert base.SECRETS_DIR == render.SECRETS_DIR == "/run/secrets/dap"
