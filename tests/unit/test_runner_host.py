"""RunnerHost: registration through the API with runner authentication tokens, config.toml wiring."""

import tomllib

from tests.conftest import SECRET_MARK

from dap_components.render.runner import CA_FILE


def runner_toml(d, n=1):
    c = d.containers()[f"dap-dev-runner-{n}"]
    up = [u for u in c.inputs["uploads"] if u["file"] == "/etc/gitlab-runner/config.toml"][0]
    assert up["permissions"] == "0600"
    return tomllib.loads(up["content"]), c


def test_registration_uses_the_user_runners_api_and_deletes_on_removal(deploy):
    d = deploy(runnerCount=1, runner={"tags": ["gpu", "ml"], "runUntagged": False})
    reg = d.named("runner-1-registration")
    assert reg.parent_name == "runner-1"
    create, delete = reg.inputs["create"], reg.inputs["delete"]
    assert "docker exec -i dap-dev-gitlab" in create
    assert "POST" in create and "/api/v4/user/runners" in create and "runner_type=instance_type" in create
    assert "registration_token" not in create and "/api/v4/runners " not in create
    assert 'tag_list="gpu,ml"' in create and "run_untagged=false" in create
    assert "DELETE" in delete and "/api/v4/runners/$id" in delete and "PULUMI_COMMAND_STDOUT" in delete
    # the admin token travels on stdin, as a secret; the token in stdout is secret too
    assert SECRET_MARK not in create + delete
    assert reg.raw["stdin"]["4dabf18193072939515e22adb298388d"]
    assert reg.inputs["logging"] == "none"
    # registration waits for the admin token to exist in GitLab
    assert d.named("service-gitlab-admin-token").urn in reg.depends_on
    # it reruns only when the runner itself is replaced (name or Docker host), not on other changes
    assert reg.inputs["triggers"] == ["dap-dev-runner-1", "unix:///var/run/docker.sock"]


def test_config_toml_wiring(deploy):
    d = deploy(runnerCount=1, runner={"concurrency": 6, "jobMemoryMb": 2048, "jobCpus": 1.5, "gpus": "all"})
    conf, c = runner_toml(d)
    assert conf["concurrent"] == 6
    (runner,) = conf["runners"]
    assert runner["url"] == "https://gitlab.dap.example.test"
    assert runner["executor"] == "docker"
    assert runner["token"].startswith("glrt-")
    assert runner["tls-ca-file"] == CA_FILE
    docker = runner["docker"]
    assert docker["privileged"] is False
    assert docker["memory"] == "2048m" and docker["cpus"] == "1.5" and docker["gpus"] == "all"
    assert docker["image"] == "python:3.12.12-slim-bookworm"
    # jobs on the service host join the platform network, where the proxy answers for every name
    assert docker["network_mode"] == "dap-dev-front"
    assert "dap-dev-runner-1-ca:/etc/dap/ca:ro" in docker["volumes"]
    assert "dap-dev-runner-1-cache:/cache" in docker["volumes"]
    # the runner trusts the stack CA, uploaded into the volume shared with jobs
    ca = [u for u in c.inputs["uploads"] if u["file"] == CA_FILE][0]["content"]
    assert ca == d.outputs["caCertificate"][0]
    assert {n["name"] for n in c.inputs["networksAdvanced"]} == {"dap-dev-front"}
    assert any(v.get("hostPath") == "/var/run/docker.sock" for v in c.inputs["volumes"])
    # its health (gitlab-runner verify) goes through the proxy, so the proxy comes first, ready
    assert d.named("service-proxy-ready").urn in c.depends_on


def test_runner_on_another_host_resolves_platform_names_to_the_service_address(deploy):
    d = deploy(
        runnerCount=1,
        serviceHost={"address": "192.0.2.10"},
        runnerHosts=[{"dockerHost": "ssh://ci@192.0.2.20"}],
    )
    conf, c = runner_toml(d)
    docker = conf["runners"][0]["docker"]
    assert "gitlab.dap.example.test:192.0.2.10" in docker["extra_hosts"]
    assert "mlflow.dap.example.test:192.0.2.10" in docker["extra_hosts"]
    assert "network_mode" not in docker
    assert {"host": "gitlab.dap.example.test", "ip": "192.0.2.10"} in c.inputs["hosts"]
    assert [n["name"] for n in c.inputs["networksAdvanced"]] == ["dap-dev-runner-1"]


def test_every_name_of_the_service_proxy_resolves_on_other_hosts(deploy):
    """The names come from the service host's routes, so an optional service (Portainer) is not forgotten."""
    d = deploy(runnerCount=1, portainer={"enabled": True}, serviceHost={"address": "192.0.2.10"},
               runnerHosts=[{"dockerHost": "ssh://ci@192.0.2.20"}])
    _, c = runner_toml(d)
    resolved = {h["host"] for h in c.inputs["hosts"] if h["ip"] == "192.0.2.10"}
    front = next(n for n in d.named("service-proxy").inputs["networksAdvanced"] if n["name"] == "dap-dev-front")
    assert resolved == set(front["aliases"])  # exactly the names the service host's proxy answers for
    assert "portainer.dap.example.test" in resolved
    # dev environments placed on the service host stay out: they are not platform services
    d = deploy(runnerCount=1, serviceHost={"address": "192.0.2.10"}, runnerHosts=[{"dockerHost": "ssh://ci@192.0.2.20"}],
               devEnvironments=[{"name": "ann"}])
    _, c = runner_toml(d)
    assert not any(h["host"].startswith("jupyter-") for h in c.inputs["hosts"])


def test_privileged_only_when_configured(deploy):
    conf, _ = runner_toml(deploy(runnerCount=1, runner={"privileged": True}))
    assert conf["runners"][0]["docker"]["privileged"] is True


def test_runner_token_from_config_replaces_registration(deploy):
    token = f"glrt-{SECRET_MARK}abcdefghij"
    d = deploy(runnerCount=2, gitlab={"runnerToken": token})
    assert not [r for r in d.resources if r.name.endswith("-registration")]
    for n in (1, 2):
        conf, _ = runner_toml(d, n)
        assert conf["runners"][0]["token"] == token


def test_runners_on_one_host_share_one_pinned_image(deploy):
    """n runners, one RemoteImage per Docker host: scaling adds or removes only runner resources."""
    other = "ssh://ci@192.0.2.20"
    d = deploy(runnerCount=5, runnerHosts=[{"dockerHost": "unix:///var/run/docker.sock"}, {"dockerHost": other}],
               serviceHost={"address": "192.0.2.10"})
    images = [i for i in d.of_type("docker:index/remoteImage:RemoteImage") if i.inputs["name"] == "gitlab/gitlab-runner:v18.5.0"]
    assert sorted(i.name for i in images) == ["ci-192-0-2-20-image-gitlab-gitlab-runner-v18-5-0", "service-image-gitlab-gitlab-runner-v18-5-0"]
    by_name = {i.name: i for i in images}
    for n in range(1, 6):
        image = by_name["service-image-gitlab-gitlab-runner-v18-5-0" if n % 2 else "ci-192-0-2-20-image-gitlab-gitlab-runner-v18-5-0"]
        c = d.containers()[f"dap-dev-runner-{n}"]
        assert image.urn in c.depends_on, n  # its image id comes from the image on its own host
        assert c.provider_name == image.provider_name
    # one more runner adds no image
    more = deploy(runnerCount=6, runnerHosts=[{"dockerHost": "unix:///var/run/docker.sock"}, {"dockerHost": other}],
                  serviceHost={"address": "192.0.2.10"})
    assert len(more.of_type("docker:index/remoteImage:RemoteImage")) == len(d.of_type("docker:index/remoteImage:RemoteImage"))
