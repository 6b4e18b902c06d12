"""The config contract: defaults, and every invalid input rejected with the key named."""

import json

import pytest

from dap_components.config import DEFAULT_IMAGES, ConfigError, load_config

OK = {"domain": "dap.example.test"}


def problems(raw):
    with pytest.raises(ConfigError) as exc:
        load_config(raw)
    return exc.value.problems


def test_defaults():
    cfg = load_config(OK)
    assert cfg.runner_count == 1
    assert cfg.portainer.enabled is False
    assert cfg.service_host.docker_host == "unix:///var/run/docker.sock"
    assert cfg.service_host.publish_address == "0.0.0.0"
    assert cfg.tls.mode == "self-signed"
    assert cfg.runner.concurrency == 4 and cfg.runner.privileged is False
    assert cfg.images.gitlab == DEFAULT_IMAGES["gitlab"]
    assert all(":" in v and not v.endswith(":latest") for v in DEFAULT_IMAGES.values())


def test_pulumi_strings_are_parsed_as_json():
    cfg = load_config({**OK, "runnerCount": "3", "portainer": json.dumps({"enabled": True}), "postgresData": '{"memoryMb": 8192}'})
    assert cfg.runner_count == 3 and cfg.portainer.enabled and cfg.postgres_data.memory_mb == 8192


# (raw config, key that must be named, fragment of the message)
INVALID = [
    ({}, "domain", "required"),
    ({"domain": "Not_A_Domain"}, "domain", "not a domain name"),
    ({"domain": "localhost"}, "domain", "not a domain name"),
    ({**OK, "domian": "x"}, "domian", "unknown key"),
    ({**OK, "runnerCount": "-1"}, "runnerCount", "greater than or equal to 0"),
    ({**OK, "runnerCount": "101"}, "runnerCount", "less than or equal to 100"),
    ({**OK, "runnerCount": "three"}, "runnerCount", "valid integer"),
    ({**OK, "tls": {"mode": "letsencrypt"}}, "tls.mode", "'self-signed' or 'provided'"),
    ({**OK, "tls": {"mode": "provided"}}, "tls", "requires certificate and privateKey"),
    ({**OK, "tls": {"mode": "provided", "certificate": "nope", "privateKey": "nope"}}, "tls.certificate", "PEM certificate"),
    ({**OK, "tls": {"certificate": "-----BEGIN CERTIFICATE-----"}}, "tls", "only allowed with mode 'provided'"),
    ({**OK, "tls": {"validityDays": 0}}, "tls.validityDays", "greater than or equal to 1"),
    ({**OK, "tls": {"mode": "self-signed", "extra": 1}}, "tls.extra", "unknown key inside tls"),
    ({**OK, "serviceHost": {"dockerHost": "http://x"}}, "serviceHost.dockerHost", "not a Docker host"),
    ({**OK, "serviceHost": {"dockerSocket": "docker.sock"}}, "serviceHost.dockerSocket", "absolute path of a unix socket"),
    ({**OK, "watchdog": {"intervalSeconds": 0}}, "watchdog.intervalSeconds", "greater than or equal to 1"),
    ({**OK, "rotation": -1}, "rotation", "greater than or equal to 0"),
    ({**OK, "images": {"kaniko": "kaniko-project/executor:latest"}}, "images.kaniko", "latest"),
    ({**OK, "serviceHost": {"dockerHost": "tcp://10.0.0.1:2376"}}, "serviceHost.dockerHost", "unix:// or ssh://"),
    ({**OK, "serviceHost": {"publishAddress": "everywhere"}}, "serviceHost.publishAddress", "not an IP address"),
    ({**OK, "serviceHost": {"address": "host.example"}}, "serviceHost.address", "not an IP address"),
    ({**OK, "serviceHost": {"httpsPort": 70000}}, "serviceHost.httpsPort", "less than or equal to 65535"),
    ({**OK, "serviceHost": {"httpsPort": 8080, "httpPort": 8080}}, "serviceHost", "must differ"),
    ({**OK, "serviceHost": {"dockerhost": "unix:///x"}}, "serviceHost.dockerhost", "unknown key inside serviceHost"),
    ({**OK, "portainer": {"enabled": "maybe"}}, "portainer.enabled", "valid boolean"),
    ({**OK, "images": {"gitlab": "gitlab/gitlab-ce:latest"}}, "images.gitlab", "'latest'"),
    ({**OK, "images": {"nginx": "nginx"}}, "images.nginx", "no tag"),
    ({**OK, "images": {"postgres": "Postgres 17"}}, "images.postgres", "not an image reference"),
    ({**OK, "images": {"redis": "redis:7"}}, "images.redis", "unknown key inside images"),
    ({**OK, "postgresData": {"memoryMb": 100}}, "postgresData.memoryMb", "greater than or equal to 256"),
    ({**OK, "postgresData": {"maxConnections": 5}}, "postgresData.maxConnections", "greater than or equal to 10"),
    ({**OK, "memoryMb": {"gitlab": 1024}}, "memoryMb.gitlab", "greater than or equal to 2048"),
    ({**OK, "memoryMb": {"redis": 512}}, "memoryMb.redis", "unknown key inside memoryMb"),
    ({**OK, "gitlab": {"runnerToken": "GR1348941abc"}}, "gitlab.runnerToken", "glrt-"),
    ({**OK, "runner": {"concurrency": 0}}, "runner.concurrency", "greater than or equal to 1"),
    ({**OK, "runner": {"gpus": "two"}}, "runner.gpus", "'all'"),
    ({**OK, "runner": {"jobCpus": -1}}, "runner.jobCpus", "greater than 0"),
    ({**OK, "runner": {"tags": ["has space"]}}, "runner.tags[0]", "pattern"),
    ({**OK, "runner": {"jobEnvironments": ["dev-julia"]}}, "runner.jobEnvironments", "not an environment"),
    ({**OK, "runner": {"jobEnvironments": ["dev-python", "dev-python"]}}, "runner.jobEnvironments", "unique"),
    ({**OK, "runnerHosts": [{"dockerHost": "ftp://x"}]}, "runnerHosts[0].dockerHost", "not a Docker host"),
    ({**OK, "runnerHosts": [{"dockerHost": "tcp://10.0.0.2:2376"}]}, "runnerHosts[0]", "needs caMaterial"),
    ({**OK, "runnerHosts": [{"dockerHost": "unix:///run/b.sock", "sshOpts": ["-i", "k"]}]}, "runnerHosts[0]", "only for ssh://"),
    ({**OK, "runnerHosts": [{"dockerHost": "ssh://ci@10.0.0.2"}]}, "serviceHost.address", "required when runnerHosts"),
    ({**OK, "runnerHosts": "ssh://ci@10.0.0.2"}, "runnerHosts", "valid list"),
    ({**OK, "devEnvironments": [{"name": "Alice"}]}, "devEnvironments[0].name", "not a DNS label"),
    ({**OK, "devEnvironments": [{"name": "a"}, {"name": "a"}]}, "devEnvironments", "unique"),
    ({**OK, "devEnvironments": [{"name": "a", "host": 2}]}, "devEnvironments[0].host", "out of range"),
    ({**OK, "devEnvironments": [{"name": "a", "host": "runner"}]}, "devEnvironments[0].host", "'service' or an index"),
    ({**OK, "devEnvironments": [{"name": "a", "image": "dev-r"}]}, "devEnvironments[0].image", "not an environment"),
    ({**OK, "devEnvironments": [{"name": "a", "sshPublicKeys": []}]}, "devEnvironments[0].sshPublicKeys", "at least one key"),
    ({**OK, "devEnvironments": [{"name": "a", "sshPublicKeys": ["hello"]}]}, "devEnvironments[0].sshPublicKeys", "OpenSSH public key"),
    ({**OK, "devEnvironments": [{"name": "a", "memoryMb": 1}]}, "devEnvironments[0].memoryMb", "greater than or equal to 256"),
    ({**OK, "devEnvironments": [{"name": "a", "jupiter": True}]}, "devEnvironments[0].jupiter", "unknown key"),
]


@pytest.mark.parametrize("raw,key,fragment", INVALID, ids=[f"{k}:{f}" for _, k, f in INVALID])
def test_invalid_config_names_key(raw, key, fragment):
    found = problems(raw)
    assert any(k == key and fragment in msg for k, msg in found), found


def test_all_problems_reported_at_once():
    found = problems({"domain": "x", "runnerCount": "-2", "portainer": {"enabled": 3}})
    assert {k for k, _ in found} == {"domain", "runnerCount", "portainer.enabled"}


def test_ssh_port_collision_is_a_config_error():
    from dap_components.ports import dev_ssh_port

    names = {}
    for i in range(5000):  # find two names that hash to the same port
        port = dev_ssh_port(f"env{i}")
        if port in names:
            a, b = names[port], f"env{i}"
            break
        names[port] = f"env{i}"
    found = problems({**OK, "devEnvironments": [{"name": a}, {"name": b}]})
    assert any(k == "devEnvironments[1].name" and "SSH port" in msg and b in msg for k, msg in found), found


def test_secret_config_values_stay_hidden_in_errors():
    found = problems({**OK, "tls": {"mode": "provided", "certificate": "nope", "privateKey": "-----BEGIN PRIVATE KEY-----mocksecret"}})
    assert "mocksecret" not in repr(found)
