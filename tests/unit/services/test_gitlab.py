"""services/gitlab.py: GitLab Omnibus behind the proxy (HTTPS, registry, SSH stream), its root password from a
file, and the admin token step that runner registration waits for."""

import shlex

import pulumi

from tests.conftest import leaks
from tests.unit.helpers import env, host_context, is_secret, raw_upload, upload

from dap_components.render.gitlab import REGISTRY_PORT, ROOT_PASSWORD_FILE
from dap_components.routes import HttpRoute, StreamRoute
from dap_components.services import gitlab


def declared(program, **config):
    def fn():
        g = gitlab.GitLab(host_context(name="svc", prefix="dap-t", **config))
        return {"gitlab": g, "urls": pulumi.Output.from_input(g.service.urls),
                "credentials": pulumi.Output.from_input(g.service.credentials), "token": g.admin_token.result}

    return program(fn)


def test_routes_urls_and_credentials(program):
    run = declared(program)
    s = run.objects["gitlab"].service
    assert s.http_routes == [
        HttpRoute("gitlab.dap.example.test", "gitlab", 80, max_body_size="512m", timeout_seconds=300),
        HttpRoute("registry.dap.example.test", "gitlab", REGISTRY_PORT, max_body_size="0", buffering=False, timeout_seconds=900),
    ]
    assert s.stream_routes == [StreamRoute("gitlab-ssh", gitlab.SSH_PORT, "gitlab", 22, hostname="gitlab.dap.example.test")]
    assert run.outputs["urls"] == ({
        "gitlab": "https://gitlab.dap.example.test",
        "registry": "https://registry.dap.example.test",
        "gitlab-ssh": "ssh://git@gitlab.dap.example.test:2222",
    }, False)
    creds, secret = run.outputs["credentials"]
    assert secret and creds["gitlab-root-username"] == "root" and set(creds) == {"gitlab-root-username", "gitlab-root-password"}


def test_public_urls_with_a_non_default_port(program):
    run = declared(program, serviceHost={"httpsPort": 8443})
    rb = upload(run.named("svc-gitlab"), "/etc/dap/gitlab.rb")["content"]
    assert "external_url 'https://gitlab.dap.example.test:8443'" in rb
    assert "registry_external_url 'https://registry.dap.example.test:8443'" in rb
    assert run.outputs["urls"][0]["gitlab"] == "https://gitlab.dap.example.test:8443"


def test_container(program):
    run = declared(program)
    c = run.named("svc-gitlab")
    assert [(v["volumeName"], v["containerPath"]) for v in c.inputs["volumes"]] == [
        ("dap-t-gitlab-config", "/etc/gitlab"), ("dap-t-gitlab-logs", "/var/log/gitlab"), ("dap-t-gitlab-data", "/var/opt/gitlab"),
    ]
    assert all(run.named(f"svc-gitlab-{p}").retain_on_delete for p in ("config", "logs", "data"))
    assert c.inputs["networksAdvanced"] == [{"name": "dap-t-web", "aliases": ["gitlab"]}]
    assert not c.inputs.get("ports") and not c.inputs.get("capabilities")  # Omnibus: Docker's default set
    assert c.inputs["waitTimeout"] == 1500 and c.inputs["healthcheck"]["startPeriod"] == "10m0s"
    root = raw_upload(c, ROOT_PASSWORD_FILE)
    assert root["permissions"] == "0400" and is_secret(root["content"])
    assert leaks(c.raw) == [] and env(c, "GITLAB_ROOT_PASSWORD") is None


def test_admin_token_step(program):
    run = declared(program)
    step = run.named("svc-gitlab-admin-token")
    assert run.named("svc-gitlab-admin-pat").inputs["length"] == 40
    # the token value travels on stdin, secret; it is on no command line
    assert is_secret(step.raw["stdin"]) and step.inputs["stdin"] == run.outputs["token"][0]
    assert leaks(step.raw) == []
    # reruns when the container is replaced, once it answers
    assert step.inputs["triggers"] == ["svc-gitlab_id"]
    assert run.named("svc-gitlab-ready").urn in step.depends_on
    assert run.objects["gitlab"].token_ready is not None


def test_admin_token_step_runs_the_ruby_unchanged_through_both_shells(program):
    create = declared(program).named("svc-gitlab-admin-token").inputs["create"]
    argv = shlex.split(create)
    assert argv[:6] == ["docker", "exec", "-i", "dap-t-gitlab", "/bin/sh", "-c"]
    assert shlex.split(argv[6]) == ["gitlab-rails", "runner", gitlab.BOOTSTRAP_RUBY]
    # nothing the inner double quotes would expand or end
    assert not set(gitlab.BOOTSTRAP_RUBY) & set('"$`\\')


def test_bootstrap_ruby():
    ruby = gitlab.BOOTSTRAP_RUBY
    assert ruby.startswith("t = STDIN.read.strip;")  # the token from stdin
    assert f"File.read('{ROOT_PASSWORD_FILE}')" in ruby and "u.password = pw" in ruby
    # earlier automation tokens are revoked before the new one is made
    assert ruby.index(".each(&:revoke!)") < ruby.index("personal_access_tokens.build")
    assert "scopes: ['api', 'create_runner', 'manage_runner']" in ruby
    assert "pat.set_token(t)" in ruby and "puts t" not in ruby and "p t" not in ruby.split(";")


def test_gitlab_configuration(deploy):
    d = deploy(runnerCount=0)
    gl = d.containers()["dap-dev-gitlab"]
    assert env(gl, "GITLAB_OMNIBUS_CONFIG") == "from_file('/etc/dap/gitlab.rb')"
    rb = upload(gl, "/etc/dap/gitlab.rb")["content"]
    assert "external_url 'https://gitlab.dap.example.test'" in rb
    assert "registry_external_url 'https://registry.dap.example.test'" in rb
    assert "gitlab_rails['gitlab_shell_ssh_port'] = 2222" in rb
    # trusted for client IPs: exactly the web network's subnet, where the proxy connects from
    from tests.conftest import _h

    subnet = f"172.30.{int(_h('service-web-net')[:4], 16) % 250 + 1}.0/24"  # what the mock assigned to dap-dev-web
    assert f"nginx['real_ip_trusted_addresses'] = ['{subnet}']" in rb
    assert f"gitlab_rails['trusted_proxies'] = ['{subnet}']" in rb
    assert "File.read('/run/secrets/dap/gitlab_root_password')" in rb
    assert upload(gl, "/run/secrets/dap/gitlab_root_password")["permissions"] == "0400"
    assert not gl.inputs.get("ports")


def test_admin_token_step_sets_the_root_password_from_its_file(deployed):
    d = deployed(runnerCount=0, portainer={"enabled": True})
    assert "u.password = pw" in d.named("service-gitlab-admin-token").inputs["create"]


def test_ci_jobs_get_the_mlflow_credentials_and_environment_images_as_instance_variables(deployed):
    d = deployed(runnerCount=1, runner={"jobEnvironments": ["dev-python", "dev-python-r"]})
    step = d.named("service-gitlab-ci-variables")
    # the admin token and every value travel on stdin, secret
    assert is_secret(step.raw["stdin"]) and leaks(step.raw) == []
    lines = step.inputs["stdin"].splitlines()
    assert lines[0] == d.named("service-gitlab-admin-token").inputs["stdin"]  # the admin token
    by_key = {line.split(" ", 2)[0]: line.split(" ", 2)[1:] for line in lines[1:]}
    password = d.outputs["credentials"][0]["mlflow-password"]
    images = {i.name: i.inputs["name"] for i in d.of_type("docker:index/remoteImage:RemoteImage")}
    assert by_key == {
        "MLFLOW_TRACKING_USERNAME": ["false", "mlflow"],
        "MLFLOW_TRACKING_PASSWORD": ["true", password],  # masked in job logs
        "DAP_IMAGE_DEV_PYTHON": ["false", images["service-dev-python-image"]],
        "DAP_IMAGE_DEV_PYTHON_R": ["false", images["service-dev-python-r-image"]],
    }
    # once the admin token exists; again when the GitLab container is replaced; removed with the stack
    assert d.named("service-gitlab-admin-token").urn in step.depends_on
    assert step.inputs["triggers"] == ["service-gitlab_id"]
    assert all(f"/admin/ci/variables/{k}" in step.inputs["delete"] for k in by_key)
    assert "docker exec -i dap-dev-gitlab" in step.inputs["create"]


def test_the_kaniko_image_becomes_an_instance_variable_only_when_configured(deployed):
    def keys(d):
        return {line.split(" ", 1)[0] for line in d.named("service-gitlab-ci-variables").inputs["stdin"].splitlines()[1:]}

    assert "DAP_IMAGE_KANIKO" not in keys(deployed(runnerCount=1))
    d = deployed(runnerCount=1, images={"kaniko": "kaniko-project/executor:v1.23.2-debug"})
    line = next(x for x in d.named("service-gitlab-ci-variables").inputs["stdin"].splitlines() if x.startswith("DAP_IMAGE_KANIKO "))
    assert line == "DAP_IMAGE_KANIKO false kaniko-project/executor:v1.23.2-debug"
