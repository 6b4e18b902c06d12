"""render/runner.py: gitlab-runner's config.toml, parsed back with tomllib."""

import tomllib

import pytest

from dap_components.render.runner import CA_DIR, CA_FILE, CONFIG_DIR, JOB_CA_DIR, RunnerSettings, render_config_toml

TOKEN = "glrt-mocksecret0123456789"
BASE = dict(name="dap-dev-runner-1", url="https://gitlab.dap.example.test", token=TOKEN, concurrency=4,
            default_image="python:3.12.12-slim-bookworm", ca_volume="dap-dev-runner-1-ca", cache_volume="dap-dev-runner-1-cache",
            mlflow_url="https://mlflow.dap.example.test")


def parse(**overrides):
    text = render_config_toml(RunnerSettings(**{**BASE, **overrides}))
    return tomllib.loads(text), text


def test_minimal_settings():
    conf, text = parse()
    assert text.startswith("# Rendered by the data-analysis-platform Pulumi program.")
    assert conf["concurrent"] == 4 and conf["check_interval"] == 3
    (runner,) = conf["runners"]
    assert (runner["name"], runner["url"], runner["token"], runner["executor"]) == (
        "dap-dev-runner-1", "https://gitlab.dap.example.test", TOKEN, "docker")
    assert runner["tls-ca-file"] == CA_FILE == f"{CONFIG_DIR}/certs/ca.crt" and CA_FILE.startswith(CA_DIR + "/")
    docker = runner["docker"]
    assert docker["image"] == "python:3.12.12-slim-bookworm" and docker["privileged"] is False
    assert docker["volumes"] == ["dap-dev-runner-1-cache:/cache", f"dap-dev-runner-1-ca:{JOB_CA_DIR}:ro"]
    # unset options are left out, not written empty
    assert not {"memory", "cpus", "gpus", "network_mode", "extra_hosts"} & set(docker)


def test_jobs_get_the_mlflow_url_and_trust_the_ca_through_the_shared_volume():
    conf, _ = parse()
    env = dict(e.split("=", 1) for e in conf["runners"][0]["environment"])
    assert env == {
        "MLFLOW_TRACKING_URI": "https://mlflow.dap.example.test",
        "DAP_CA_FILE": f"{JOB_CA_DIR}/ca.crt",
        "MLFLOW_TRACKING_SERVER_CERT_PATH": f"{JOB_CA_DIR}/ca.crt",
        "PGSSLROOTCERT": f"{JOB_CA_DIR}/ca.crt",
    }


def test_optional_settings():
    conf, _ = parse(privileged=True, gpus="device=0,1", job_memory_mb=2048, job_cpus=1.5, network_mode="dap-dev-front",
                    extra_hosts=("gitlab.dap.example.test:192.0.2.10", "mlflow.dap.example.test:192.0.2.10"))
    docker = conf["runners"][0]["docker"]
    assert docker["privileged"] is True and docker["gpus"] == "device=0,1"
    assert docker["memory"] == "2048m" and docker["cpus"] == "1.5"
    assert docker["network_mode"] == "dap-dev-front"
    assert docker["extra_hosts"] == ["gitlab.dap.example.test:192.0.2.10", "mlflow.dap.example.test:192.0.2.10"]


@pytest.mark.parametrize("value", ['a"b', "back\\slash", "new\nline", "x = 1\n[runners]", "ünï"])
def test_values_round_trip_whatever_they_contain(value):
    conf, _ = parse(name=value, token=value, default_image=value)
    runner = conf["runners"][0]
    assert runner["name"] == runner["token"] == runner["docker"]["image"] == value
    assert len(conf["runners"]) == 1


def test_the_token_is_written_once_where_the_runner_reads_it():
    conf, text = parse()
    assert text.count(TOKEN) == 1 and conf["runners"][0]["token"] == TOKEN
    assert not any(TOKEN in str(v) for k, v in conf["runners"][0].items() if k != "token")


def test_documented_keys_only():
    """Every key we write is one gitlab-runner documents for config.toml (docs.gitlab.com/runner/configuration/advanced-configuration)."""
    from dap_components.render.runner import RunnerSettings, render_config_toml

    text = render_config_toml(
        RunnerSettings(
            name="r", url="https://gitlab.x.test", token="glrt-x", concurrency=2, default_image="debian:12",
            ca_volume="ca", cache_volume="cache", gpus="all", job_memory_mb=512, job_cpus=1.0, mlflow_url="https://m.x.test",
            network_mode="net", extra_hosts=("a.x.test:192.0.2.1",),
        )
    )
    conf = tomllib.loads(text)
    GLOBAL = {"concurrent", "log_level", "log_format", "check_interval", "sentry_dsn", "listen_address", "shutdown_timeout", "connection_max_age", "runners", "session_server"}
    RUNNER = {"name", "url", "token", "tls-ca-file", "tls-cert-file", "tls-key-file", "limit", "executor", "shell", "builds_dir", "cache_dir", "environment", "request_concurrency", "output_limit", "pre_get_sources_script", "post_get_sources_script", "pre_build_script", "post_build_script", "clone_url", "debug_trace_disabled", "docker", "cache", "custom_build_dir", "feature_flags"}
    DOCKER = {"allowed_images", "allowed_pull_policies", "allowed_services", "cache_dir", "cap_add", "cap_drop", "cpuset_cpus", "cpu_shares", "cpus", "devices", "device_cgroup_rules", "disable_cache", "disable_entrypoint_overwrite", "dns", "dns_search", "extra_hosts", "gpus", "group_add", "helper_image", "host", "hostname", "image", "links", "memory", "memory_swap", "memory_reservation", "network_mode", "oom_kill_disable", "oom_score_adjust", "privileged", "pull_policy", "runtime", "isolation", "security_opt", "shm_size", "sysctls", "tls_cert_path", "tls_verify", "user", "userns_mode", "volumes", "volumes_from", "volume_driver", "wait_for_services_timeout", "container_labels", "services_tmpfs", "tmpfs"}
    assert set(conf) <= GLOBAL
    assert set(conf["runners"][0]) <= RUNNER
    assert set(conf["runners"][0]["docker"]) <= DOCKER
    assert isinstance(conf["concurrent"], int) and isinstance(conf["runners"][0]["docker"]["shm_size"], int)
    assert conf["runners"][0]["docker"]["pull_policy"] == ["if-not-present"]
