"""services/portainer.py: optional, the only service with the Docker socket; its admin password from a file, and
the step that re-initialises Portainer when its kept database refuses that password (run here against a stand-in
`docker`)."""

import json
import os
import re
import subprocess

import pulumi
import pytest

from tests.conftest import _h, leaks
from tests.unit.helpers import host_context, is_secret, raw_upload

from dap_components.routes import HttpRoute
from dap_components.services import portainer

FAKE_DOCKER = """#!/bin/sh
printf '%s\\037' "$@" >> "$LOG"; printf '\\n' >> "$LOG"
case " $* " in
  *" curl "*)
    cat >> "$LOG.bodies"; printf '\\n' >> "$LOG.bodies"
    code=$(head -n 1 "$CODES"); sed -i 1d "$CODES"; printf '%s' "$code" ;;
esac
"""


def reconcile(tmp_path, codes, container="dap-t-portainer", network="dap-t-web", volume="dap-t-portainer-data", image="sha256:abc"):
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "docker"
    fake.write_text(FAKE_DOCKER)
    fake.chmod(0o755)
    (tmp_path / "codes").write_text("".join(f"{c}\n" for c in codes))
    log = tmp_path / "log"
    res = subprocess.run(
        ["/bin/sh", "-c", portainer.reconcile_script(container, network, volume, image)], input="PW-1_x\n",
        capture_output=True, text=True,
        env={"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "LOG": str(log), "CODES": str(tmp_path / "codes")},
    )
    calls = [line.split("\x1f")[:-1] for line in log.read_text().splitlines()] if log.exists() else []
    bodies = (tmp_path / "log.bodies").read_text().splitlines() if (tmp_path / "log.bodies").exists() else []
    return res, calls, bodies


def test_an_accepted_password_changes_nothing(tmp_path):
    res, calls, bodies = reconcile(tmp_path, [200])
    assert res.returncode == 0 and "admin password accepted" in res.stdout
    assert len(calls) == 1
    (curl,) = calls
    assert curl[:7] == ["run", "--rm", "-i", "--network", "dap-t-web", "--entrypoint", "curl"] and curl[7] == "sha256:abc"
    assert curl[-1] == f"http://{portainer.ALIAS}:{portainer.PORT}/api/auth" and "@-" in curl  # the body from stdin
    # the password read from stdin, sent in the request body only
    assert [json.loads(b) for b in bodies] == [{"username": "admin", "password": "PW-1_x"}]
    assert not any("PW-1_x" in a for c in calls for a in c)


def test_a_refused_password_moves_the_database_aside_and_restarts(tmp_path):
    res, calls, _ = reconcile(tmp_path, [401, 200])
    assert res.returncode == 0, res.stderr
    assert "admin password accepted after re-initialisation" in res.stdout
    verbs = [c[0] for c in calls]
    assert verbs == ["run", "stop", "run", "start", "run"]
    assert calls[1] == ["stop", "dap-t-portainer"] and calls[3] == ["start", "dap-t-portainer"]
    move = calls[2]
    assert move[:6] == ["run", "--rm", "-v", "dap-t-portainer-data:/data", "--entrypoint", "sh"] and move[7] == "-c"
    # the move keeps the old database, dated
    data = tmp_path / "data"
    data.mkdir()
    (data / portainer.DATABASE).write_text("old")
    subprocess.run(["/bin/sh", "-c", move[8].replace("/data/", f"{data}/")], check=True)
    (kept,) = os.listdir(data)
    assert re.fullmatch(rf"{re.escape(portainer.DATABASE)}\.replaced-\d{{8}}T\d{{6}}Z", kept)


def test_still_refused_after_reinitialisation_fails_the_step(tmp_path):
    res, calls, _ = reconcile(tmp_path, [401, 401])
    assert res.returncode == 1 and "still refused (401)" in res.stderr
    assert [c[0] for c in calls] == ["run", "stop", "run", "start", "run"]


def test_names_reach_docker_as_single_arguments(tmp_path):
    res, calls, _ = reconcile(tmp_path, [403, 200], container="c; touch pwned", volume="v $(id)")
    assert res.returncode == 0, res.stderr
    assert calls[1] == ["stop", "c; touch pwned"] and calls[2][3] == "v $(id):/data"
    assert not (tmp_path / "pwned").exists()


def declared(program, **config):
    def fn():
        r = portainer.declare(host_context(name="svc", prefix="dap-t", **config))
        return {"result": r, "credentials": pulumi.Output.from_input(r.credentials)}

    return program(fn)


def test_container(program):
    run = declared(program)
    c = run.named("svc-portainer")
    pw_file = "/run/secrets/dap/portainer_admin_password"
    assert c.inputs["command"] == ["--admin-password-file", pw_file, "--http-enabled"]
    up = raw_upload(c, pw_file)
    assert up["permissions"] == "0400" and is_secret(up["content"]) and leaks(c.raw) == []
    binds = [v for v in c.inputs["volumes"] if v.get("hostPath")]
    assert binds == [{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock", "readOnly": False}]
    assert c.inputs["networksAdvanced"] == [{"name": "dap-t-web", "aliases": ["portainer"]}]
    assert run.named("svc-portainer-data").retain_on_delete


def test_route_and_credentials(program):
    run = declared(program)
    r = run.objects["result"]
    assert r.http_routes == [HttpRoute("portainer.dap.example.test", "portainer", 9000, timeout_seconds=300)]
    assert r.urls == {"portainer": "https://portainer.dap.example.test"}
    creds, secret = run.outputs["credentials"]
    assert secret and creds["portainer-username"] == "admin" and set(creds) == {"portainer-username", "portainer-password"}


def test_credentials_step_runs_where_docker_reaches_the_host(program):
    run = declared(program, serviceHost={"dockerHost": "ssh://ops@192.0.2.10"})
    step = run.named("svc-portainer-credentials")
    assert step.inputs["environment"] == {"DOCKER_HOST": "ssh://ops@192.0.2.10"}
    assert step.inputs["logging"] == "none"
    assert is_secret(step.raw["stdin"]) and step.inputs["stdin"].endswith("\n") and leaks(step.raw) == []
    tools_image_id = f"sha256:{_h('nginx:1.28.0-bookworm')}"  # as the mocks pin it
    assert step.inputs["create"] == portainer.reconcile_script("dap-t-portainer", "dap-t-web", "dap-t-portainer-data", tools_image_id)
    assert step.inputs["triggers"] == ["svc-portainer_id"] and run.named("svc-portainer-ready").urn in step.depends_on
    assert run.named("svc-portainer-tools-image").inputs["name"] == "nginx:1.28.0-bookworm"  # curl and sh


@pytest.mark.parametrize("enabled", [False, True])
def test_portainer_only_when_enabled(deploy, enabled):
    d = deploy(runnerCount=0, portainer={"enabled": enabled})
    names = set(d.containers())
    assert ("dap-dev-portainer" in names) is enabled
    hostnames = {r.name for r in d.of_type("dap:index:ProxyRoute")}
    assert ("service-portainer-route" in hostnames) is enabled
    sockets = [c for c in d.containers().values() if any(v.get("hostPath") == "/var/run/docker.sock" for v in c.inputs.get("volumes", []))]
    # the only service with it (the watchdog, not a service, has it too)
    assert [c.inputs["name"] for c in sockets] == (["dap-dev-portainer"] if enabled else []) + ["dap-dev-watchdog"]
