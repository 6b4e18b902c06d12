"""ServiceHost under mocks: inventory, wiring, networks, ports and container guarantees."""

import re

from tests.unit.helpers import conf_of, upload

from dap_components.render import nginx

CONTAINER = "docker:index/container:Container"
SERVICES = {"gitlab", "postgres-service", "postgres-data", "minio", "mlflow", "pgadmin", "proxy"}


def test_inventory_one_container_per_service(deploy):
    d = deploy(runnerCount=0)
    assert len(d.of_type("dap:index:ServiceHost")) == 1
    containers = [c for c in d.of_type(CONTAINER) if c.inputs["name"] != "dap-dev-watchdog"]  # not a service
    roles = [c.inputs["name"].removeprefix("dap-dev-") for c in containers]
    assert sorted(roles) == sorted(SERVICES)
    assert all(r.parent_name == "service" for r in containers)


def test_one_proxy_route_per_routed_name(deploy):
    d = deploy(runnerCount=0)
    routes = {r.name for r in d.of_type("dap:index:ProxyRoute")}
    assert routes == {
        f"service-{n}-route"
        for n in ("gitlab", "registry", "mlflow", "s3", "minio-console", "pgadmin", "postgres-service", "postgres-data", "gitlab-ssh")
    }


def server_block(conf, hostname):
    m = re.search(r"server \{\n\s+listen 443 ssl http2;\n\s+server_name " + re.escape(hostname) + r";(.*?)\n    \}\n", conf, re.S)
    assert m, f"no server block for {hostname}"
    return m.group(1)


def test_each_route_reaches_the_right_container_and_port(deploy):
    d = deploy(runnerCount=0)
    conf = conf_of(d)
    containers = d.containers()
    expected = {
        "gitlab.dap.example.test": ("gitlab", "dap-dev-gitlab", 80),
        "registry.dap.example.test": ("gitlab", "dap-dev-gitlab", 5050),
        "mlflow.dap.example.test": ("mlflow", "dap-dev-mlflow", 5000),
        "s3.dap.example.test": ("minio", "dap-dev-minio", 9000),
        "minio-console.dap.example.test": ("minio", "dap-dev-minio", 9001),
        "pgadmin.dap.example.test": ("pgadmin", "dap-dev-pgadmin", 80),
    }
    proxy_nets = {n["name"] for n in containers["dap-dev-proxy"].inputs["networksAdvanced"]}
    for host, (alias, cname, port) in expected.items():
        block = server_block(conf, host)
        assert f"set $upstream http://{alias}:{port};" in block
        # the alias belongs to that container on a network the proxy shares
        nets = [n for n in containers[cname].inputs["networksAdvanced"] if alias in (n.get("aliases") or [])]
        assert nets and nets[0]["name"] in proxy_nets, (host, nets)
    streams = dict(re.findall(r"listen (\d+);\n\s+set \$upstream_\d+ ([\w.-]+:\d+);", conf))
    assert streams == {"2222": "gitlab:22", "54321": "postgres-service:5432", "54322": "postgres-data:5432"}


def test_route_options(deploy):
    conf = conf_of(deploy(runnerCount=0))
    s3 = server_block(conf, "s3.dap.example.test")
    assert "proxy_set_header Host $http_host;" in s3  # SigV4 signs host:port
    assert "proxy_set_header Host $host;" in server_block(conf, "gitlab.dap.example.test")
    assert "client_max_body_size 0;" in s3 and "proxy_buffering off;" in s3 and "proxy_request_buffering off;" in s3
    assert "client_max_body_size 512m;" in server_block(conf, "gitlab.dap.example.test")
    assert "proxy_buffering off;" in server_block(conf, "registry.dap.example.test")
    mlflow = server_block(conf, "mlflow.dap.example.test")
    assert f"auth_basic_user_file {nginx.HTPASSWD_DIR}/mlflow;" in mlflow
    assert "auth_basic" not in server_block(conf, "pgadmin.dap.example.test")
    assert "Upgrade $http_upgrade" in server_block(conf, "minio-console.dap.example.test")


def test_only_the_proxy_publishes_ports_on_the_publish_address(deploy):
    d = deploy(runnerCount=1, serviceHost={"publishAddress": "127.0.0.1"}, devEnvironments=[{"name": "ann"}])
    publishing = {name: c.inputs.get("ports") for name, c in d.containers().items() if c.inputs.get("ports")}
    assert list(publishing) == ["dap-dev-proxy"]
    ports = publishing["dap-dev-proxy"]
    assert {p["ip"] for p in ports} == {"127.0.0.1"}
    from dap_components.ports import dev_ssh_port

    assert {(p["internal"], p["external"]) for p in ports} == {
        (443, 443), (80, 80), (2222, 2222), (54321, 54321), (54322, 54322), (dev_ssh_port("ann"), dev_ssh_port("ann"))
    }


def test_custom_https_port_in_redirects(deploy):
    d = deploy(runnerCount=0, serviceHost={"httpsPort": 8443, "httpPort": 8080})
    ports = {(p["internal"], p["external"]) for p in d.containers()["dap-dev-proxy"].inputs["ports"]}
    assert (8443, 8443) in ports and (80, 8080) in ports
    conf = conf_of(d)
    assert "return 301 https://$host:8443$request_uri;" in conf
    # inside the networks the same URL works: nginx listens on 443 and on the public port
    assert "listen 443 ssl http2;\n        listen 8443 ssl http2;" in conf


def test_networks_by_purpose(deploy):
    d = deploy(runnerCount=0)
    nets = {r.inputs["name"]: r.inputs for r in d.of_type("docker:index/network:Network")}
    assert {n: v.get("internal", False) for n, v in nets.items()} == {
        "dap-dev-front": False, "dap-dev-web": True, "dap-dev-db": True, "dap-dev-storage": True
    }
    member = {name: {n["name"] for n in c.inputs.get("networksAdvanced", [])} for name, c in d.containers().items()}
    assert member["dap-dev-postgres-service"] == {"dap-dev-db"}
    assert member["dap-dev-postgres-data"] == {"dap-dev-db"}
    assert member["dap-dev-minio"] == {"dap-dev-storage"}
    assert member["dap-dev-gitlab"] == {"dap-dev-web"}
    assert member["dap-dev-mlflow"] == {"dap-dev-web", "dap-dev-db", "dap-dev-storage"}
    assert member["dap-dev-proxy"] == {"dap-dev-front", "dap-dev-web", "dap-dev-db", "dap-dev-storage"}
    # the proxy answers for every platform name on the front network (runners, dev environments)
    front = [n for n in d.containers()["dap-dev-proxy"].inputs["networksAdvanced"] if n["name"] == "dap-dev-front"][0]
    assert {"gitlab.dap.example.test", "mlflow.dap.example.test", "postgres-data.dap.example.test"} <= set(front["aliases"])


def test_every_container_has_the_guarantees(deploy):
    d = deploy(runnerCount=1, devEnvironments=[{"name": "ann"}], portainer={"enabled": True})
    assert d.containers()
    for name, c in d.containers().items():
        i = c.inputs
        assert i["restart"] == "unless-stopped", name
        assert i["healthcheck"]["tests"], name
        assert i["logDriver"] == "json-file" and i["logOpts"] == {"max-size": "10m", "max-file": "3"}, name
        assert i["image"].startswith("sha256:"), name  # an image id from a pinned RemoteImage
        assert "no-new-privileges:true" in i["securityOpts"], name
        assert not i.get("privileged"), name
        assert c.delete_before_replace, name
    for img in d.of_type("docker:index/remoteImage:RemoteImage"):
        ref = img.inputs["name"]
        assert re.search(r":[\w.-]+$", ref) and not ref.endswith(":latest"), ref
        assert img.inputs["keepLocally"] is True


def test_state_volumes_survive_destroy(deploy):
    d = deploy(runnerCount=0)
    vols = {v.inputs["name"]: v for v in d.of_type("docker:index/volume:Volume")}
    assert set(vols) == {
        "dap-dev-postgres-service-data", "dap-dev-postgres-data-data", "dap-dev-minio-data", "dap-dev-pgadmin-data",
        "dap-dev-gitlab-config", "dap-dev-gitlab-logs", "dap-dev-gitlab-data",
    }
    assert all(v.retain_on_delete for v in vols.values())


def test_mlflow_database_password_is_shared(deploy):
    d = deploy(runnerCount=0)
    pg = d.containers()["dap-dev-postgres-service"]
    mlflow_pw = upload(pg, "/run/secrets/dap/mlflow_password")["content"]
    assert upload(d.containers()["dap-dev-mlflow"], "/run/secrets/dap/pgpass")["content"].strip().endswith(":" + mlflow_pw)
    # no first-boot-only init script: a step run on every new container sets the roles from the files
    assert not any(u["file"].startswith("/docker-entrypoint-initdb.d/") for u in pg.inputs["uploads"])
    step = d.named("service-postgres-service-credentials")
    assert "ALTER ROLE mlflow LOGIN PASSWORD :" in step.inputs["create"] and mlflow_pw not in step.inputs["create"]
    assert step.inputs["create"].startswith("docker exec -i -u postgres dap-dev-postgres-service ")
    mlflow = d.named("service-mlflow")
    assert step.urn in mlflow.depends_on and d.named("service-minio-mlflow-bucket").urn in mlflow.depends_on


def test_every_stateful_service_reconciles_its_credentials_on_a_new_container(deploy):
    d = deploy(runnerCount=0, portainer={"enabled": True})
    for step, container in [
        ("service-postgres-service-credentials", "service-postgres-service"),
        ("service-postgres-data-credentials", "service-postgres-data"),
        ("service-minio-mlflow-bucket", "service-minio"),
        ("service-gitlab-admin-token", "service-gitlab"),
        ("service-pgadmin-credentials", "service-pgadmin"),
        ("service-portainer-credentials", "service-portainer"),
    ]:
        # reruns whenever the container is replaced (destroy + up, a new password in its files)
        assert d.named(step).inputs["triggers"] == [f"{d.named(container).name}_id"], step


def test_outputs(deploy):
    d = deploy(runnerCount=0)
    urls, secret = d.outputs["urls"]
    assert not secret
    assert urls["mlflow"] == "https://mlflow.dap.example.test" and urls["postgres-data"].endswith(":54322/postgres?sslmode=verify-full")
    creds, secret = d.outputs["credentials"]
    assert secret
    assert {"gitlab-root-password", "mlflow-password", "pgadmin-password", "minio-root-password", "postgres-data-superuser"} <= set(creds)
    ca, secret = d.outputs["caCertificate"]
    assert ca.startswith("-----BEGIN CERTIFICATE-----") and not secret


def test_capabilities_dropped_where_the_image_allows(deploy):
    d = deploy(runnerCount=0)
    caps = {name.removeprefix("dap-dev-"): c.inputs.get("capabilities") for name, c in d.containers().items()}
    expected = {
        # spelled as the engine reports them, so a refresh finds no difference
        "proxy": ["CAP_CHOWN", "CAP_SETGID", "CAP_SETUID"],
        "postgres-service": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID"],
        "postgres-data": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID"],
        "minio": [],
        "mlflow": ["CAP_CHOWN", "CAP_SETGID", "CAP_SETUID"],
        "pgadmin": ["CAP_NET_BIND_SERVICE"],
    }
    for role, adds in expected.items():
        assert caps[role]["drops"] == ["ALL"] and caps[role].get("adds", []) == adds, (role, caps[role])
    assert caps["gitlab"] is None  # Omnibus runs its own init system: Docker's default set
