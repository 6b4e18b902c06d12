"""DevEnvironment: generated keys and tokens, stable SSH ports, routes on its host's proxy."""

import re

from tests.conftest import SECRET_MARK

from dap_components.containers import environment_tag
from dap_components.ports import dev_ssh_port


def proxy_conf(d, container="dap-dev-proxy"):
    c = d.containers()[container]
    return [u for u in c.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf"][0]["content"]


def test_port_stable_when_another_environment_is_added(deploy):
    one = deploy(runnerCount=0, devEnvironments=[{"name": "ann"}])
    two = deploy(runnerCount=0, devEnvironments=[{"name": "bob"}, {"name": "ann"}])
    p1 = re.findall(r"listen (\d+);\n\s+set \$upstream_\d+ dev-ann:22;", proxy_conf(one))
    p2 = re.findall(r"listen (\d+);\n\s+set \$upstream_\d+ dev-ann:22;", proxy_conf(two))
    assert p1 == p2 == [str(dev_ssh_port("ann"))]
    assert 2201 <= dev_ssh_port("ann") <= 2999
    assert one.outputs["devEnvironments"][0]["ann"]["sshPort"] == two.outputs["devEnvironments"][0]["ann"]["sshPort"]
    # ann's own resources are unchanged by bob's arrival
    ann1 = {r.urn: r.inputs for r in one.descendants("dev-ann")}
    ann2 = {r.urn: r.inputs for r in two.descendants("dev-ann")}
    assert ann1 == ann2


def test_generated_key_pair_when_no_public_key_given(deploy):
    d = deploy(runnerCount=0, devEnvironments=[{"name": "ann"}, {"name": "bob", "sshPublicKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA bob@laptop"]}])
    keys = {r.name: r.inputs for r in d.of_type("tls:index/privateKey:PrivateKey")}
    assert keys["dev-ann-user-key"]["algorithm"] == "ED25519"
    assert "dev-bob-user-key" not in keys
    assert keys["dev-ann-host-key"]["algorithm"] == keys["dev-bob-host-key"]["algorithm"] == "ED25519"
    secrets, is_secret = d.outputs["devEnvironmentSecrets"]
    assert is_secret and SECRET_MARK in secrets["ann"]["privateKey"] and "privateKey" not in secrets["bob"]
    bob = d.containers()["dap-dev-dev-bob"]
    ak = [u for u in bob.inputs["uploads"] if u["file"] == "/run/secrets/dap/authorized_keys"][0]["content"]
    assert ak == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA bob@laptop\n"


def test_container_wiring(deploy):
    d = deploy(runnerCount=0, devEnvironments=[{"name": "ann", "memoryMb": 8192, "cpus": 2}])
    c = d.containers()["dap-dev-dev-ann"]
    files = {u["file"]: u for u in c.inputs["uploads"]}
    assert files["/run/secrets/dap/ssh_host_ed25519_key"]["permissions"] == "0400"
    assert files["/run/secrets/dap/jupyter_token"]["permissions"] == "0400"
    assert files["/run/secrets/dap/ca.crt"]["content"] == d.outputs["caCertificate"][0]
    assert "[mlflow]" in files["/run/secrets/dap/mlflow_credentials"]["content"]
    envs = dict(e.split("=", 1) for e in c.inputs["envs"])
    assert envs["MLFLOW_TRACKING_URI"] == "https://mlflow.dap.example.test"
    assert envs["PGHOST"] == "postgres-data.dap.example.test" and envs["PGSSLMODE"] == "verify-full"
    assert c.inputs["memory"] == 8192 and c.inputs["cpus"] == "2.0"
    assert [n["name"] for n in c.inputs["networksAdvanced"]] == ["dap-dev-front"]
    assert not c.inputs.get("ports")
    conf = proxy_conf(d)
    assert "server_name jupyter-ann.dap.example.test;" in conf and "set $upstream http://dev-ann:8888;" in conf
    # Jupyter sees the Host the browser used, port included (its websocket Origin check compares the two)
    (block,) = [b for b in conf.split("server {") if "server_name jupyter-ann.dap.example.test;" in b]
    assert "proxy_set_header Host $http_host;" in block and "proxy_set_header Host $host;" not in block
    out = d.outputs["devEnvironments"][0]["ann"]
    assert out["ssh"] == f"ssh -p {dev_ssh_port('ann')} dev@jupyter-ann.dap.example.test"
    assert out["jupyterUrl"] == "https://jupyter-ann.dap.example.test"


def test_jupyter_off_means_no_route(deploy):
    d = deploy(runnerCount=0, devEnvironments=[{"name": "ann", "jupyter": False}])
    assert "jupyter-ann" not in {r.name.split("-route")[0].removeprefix("service-") for r in d.of_type("dap:index:ProxyRoute") if "jupyter" in r.name}
    assert "server_name jupyter-ann" not in proxy_conf(d)
    assert "JUPYTER_ENABLED=false" in d.containers()["dap-dev-dev-ann"].inputs["envs"]


def test_environment_on_another_host_gets_a_proxy_there(deploy):
    d = deploy(
        runnerCount=0,
        serviceHost={"address": "192.0.2.10"},
        runnerHosts=[{"dockerHost": "ssh://ci@192.0.2.20", "address": "192.0.2.20"}],
        devEnvironments=[{"name": "ann", "host": 0}],
    )
    proxies = [r for r in d.of_type("dap:index:HostProxy")]
    assert [p.name for p in proxies] == ["proxy-ci-192-0-2-20"]
    remote = [c for c in d.of_type("docker:index/container:Container") if c.provider_name == "docker-ci-192-0-2-20"]
    assert sorted(c.inputs["name"] for c in remote) == ["dap-dev-dev-ann", "dap-dev-proxy", "dap-dev-watchdog"]
    remote_proxy = [c for c in remote if c.inputs["name"] == "dap-dev-proxy"][0]
    conf = [u for u in remote_proxy.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf"][0]["content"]
    assert "server_name jupyter-ann.dap.example.test;" in conf
    service_proxy = [c for c in d.of_type("docker:index/container:Container") if c.name == "service-proxy"][0]
    service_conf = [u for u in service_proxy.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf"][0]["content"]
    assert "jupyter-ann" not in service_conf  # not routed by the service host's proxy
    # certified by the same stack CA
    cert = d.named("proxy-ci-192-0-2-20-tls-cert")
    assert cert.inputs["caCertPem"] == d.named("service-proxy-tls-cert").inputs["caCertPem"]
    ann = [c for c in remote if c.inputs["name"] == "dap-dev-dev-ann"][0]
    assert {"host": "mlflow.dap.example.test", "ip": "192.0.2.10"} in ann.inputs["hosts"]


IMAGE = "docker:index/remoteImage:RemoteImage"


def env_images(d):
    return {i.name: i for i in d.of_type(IMAGE) if "-dev-python" in i.name}


def test_one_image_per_environment_and_host(deploy):
    d = deploy(runnerCount=0, devEnvironments=[{"name": "ann"}, {"name": "bob"}])
    images = env_images(d)
    assert list(images) == ["service-dev-python-image"]
    built = images["service-dev-python-image"]
    assert built.inputs["build"]["buildArgs"] == {"BASE_IMAGE": "python:3.12.12-slim-bookworm"}
    assert built.inputs["name"] == environment_tag("dev-python", "python:3.12.12-slim-bookworm")
    for name in ("ann", "bob"):
        assert built.urn in d.containers()[f"dap-dev-dev-{name}"].depends_on


def test_r_environment_is_built_on_the_python_one(deploy):
    d = deploy(runnerCount=0, devEnvironments=[{"name": "ann"}, {"name": "rita", "image": "dev-python-r"}])
    images = env_images(d)
    py, r = images["service-dev-python-image"], images["service-dev-python-r-image"]
    assert r.inputs["build"]["context"].endswith("environments/dev-python-r")
    # FROM the dev-python image built on the same host, after it
    assert r.inputs["build"]["buildArgs"] == {"BASE_IMAGE": py.inputs["name"]}
    assert py.urn in r.depends_on
    assert r.inputs["name"].startswith("dap-local/dev-python-r:")
    assert r.urn in d.containers()["dap-dev-dev-rita"].depends_on
    assert py.urn in d.containers()["dap-dev-dev-ann"].depends_on


def test_environment_tags_follow_their_base():
    assert environment_tag("dev-python-r", "dap-local/dev-python:aaa") != environment_tag("dev-python-r", "dap-local/dev-python:bbb")
    assert environment_tag("dev-python", "python:3.12.12-slim-bookworm") == environment_tag("dev-python", "python:3.12.12-slim-bookworm")


def test_prebuilt_environment_images(deploy):
    # a prebuilt R image: nothing is built
    d = deploy(runnerCount=0, devEnvironments=[{"name": "rita", "image": "dev-python-r"}],
               images={"devPythonR": "registry.example.test/dev-python-r:2.0.0"})
    images = env_images(d)
    assert list(images) == ["service-dev-python-r-image"]
    assert images["service-dev-python-r-image"].inputs["name"] == "registry.example.test/dev-python-r:2.0.0"
    assert "build" not in images["service-dev-python-r-image"].inputs
    # a prebuilt Python image: the R one is built FROM it
    d = deploy(runnerCount=0, devEnvironments=[{"name": "rita", "image": "dev-python-r"}],
               images={"devPython": "registry.example.test/dev-python:2.0.0"})
    images = env_images(d)
    assert images["service-dev-python-r-image"].inputs["build"]["buildArgs"] == {"BASE_IMAGE": "registry.example.test/dev-python:2.0.0"}
