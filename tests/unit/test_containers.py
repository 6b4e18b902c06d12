"""The one container declaration: values spelled the way the engine reports them, so refresh finds no drift."""

import pytest

from dap_components.containers import capability_args, context_hash, go_duration


@pytest.mark.parametrize("seconds,text", [
    (0, "0s"), (2, "2s"), (10, "10s"), (59, "59s"), (60, "1m0s"), (90, "1m30s"), (600, "10m0s"),
    (3600, "1h0m0s"), (3725, "1h2m5s"),
])
def test_durations_as_go_prints_them(seconds, text):
    # Docker's inspect reports nanoseconds; the provider reads them back through time.Duration.String()
    assert go_duration(seconds) == text


def test_capabilities_drop_all_and_add_back_in_the_engines_spelling():
    caps = capability_args(["setuid", "CHOWN", "CAP_SETGID", "chown"])
    assert caps.drops == ["ALL"]
    assert caps.adds == ["CAP_CHOWN", "CAP_SETGID", "CAP_SETUID"]
    assert capability_args([]).adds == [] and capability_args(None) is None


def test_context_hash_follows_content_and_mode(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    first = context_hash(tmp_path)
    assert context_hash(tmp_path) == first
    (tmp_path / "Dockerfile").chmod(0o755)
    assert context_hash(tmp_path) != first


def test_readiness_polls_the_containers_own_healthcheck():
    from dap_components.containers import READY_POLL, readiness_script

    script = readiness_script("dap-dev-postgres", ["CMD", "pg_isready", "-h", "127.0.0.1"], 300)
    assert "until timeout 10 docker exec dap-dev-postgres pg_isready -h 127.0.0.1 >/dev/null 2>&1; do" in script
    assert f"sleep {READY_POLL}" in script and READY_POLL <= 0.5
    assert "-ge 300 ]" in script
    shell = readiness_script("dap-dev-proxy", ["CMD-SHELL", "kill -0 $(cat /var/run/nginx.pid)"], 60)
    assert "docker exec dap-dev-proxy /bin/sh -c 'kill -0 $(cat /var/run/nginx.pid)'" in shell


def test_every_container_gets_a_readiness_step_and_the_provider_does_not_wait(deploy):
    d = deploy(runnerCount=1, portainer={"enabled": True}, devEnvironments=[{"name": "ann"}])
    for c in d.of_type("docker:index/container:Container"):
        ready = d.named(f"{c.name}-ready")
        assert c.inputs.get("wait") is False, c.name
        assert ready.inputs["triggers"] == [f"{c.name}_id"] and c.urn in ready.depends_on
        assert ready.inputs["environment"] == {"DOCKER_HOST": "unix:///var/run/docker.sock"}
    # provisioning steps start once their container answers, not merely once it was created
    assert d.named("service-postgres-service-ready").urn in d.named("service-postgres-service-credentials").depends_on
    assert d.named("service-gitlab-ready").urn in d.named("service-gitlab-admin-token").depends_on


def test_a_tcp_docker_host_falls_back_to_the_providers_wait(deploy):
    tls = {"caMaterial": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
           "certMaterial": "-----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----\n",
           "keyMaterial": "-----BEGIN PRIVATE KEY-----\nz\n-----END PRIVATE KEY-----\n"}
    d = deploy(runnerCount=1, serviceHost={"address": "192.0.2.10"},
               runnerHosts=[{"dockerHost": "tcp://192.0.2.20:2376", "address": "192.0.2.20", **tls}])
    runner = d.named("runner-1-runner")
    assert runner.inputs["wait"] is True
    assert not [r for r in d.resources if r.name == "runner-1-runner-ready"]


def test_health_intervals_stay_within_what_the_deployment_tests_wait_for(deploy):
    from dap_components.containers import HEALTH_INTERVAL_MAX, go_duration

    d = deploy(runnerCount=1, portainer={"enabled": True}, devEnvironments=[{"name": "ann"}])
    allowed = {go_duration(s) for s in range(1, HEALTH_INTERVAL_MAX + 1)}
    for c in d.of_type("docker:index/container:Container"):
        assert c.inputs["healthcheck"]["interval"] in allowed, c.name
