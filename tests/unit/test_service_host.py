"""ServiceHost under mocks: inventory, wiring, networks, ports and container guarantees."""

import re

import pytest

from dap_components.render import nginx

CONTAINER = "docker:index/container:Container"
SERVICES = {"gitlab", "postgres-service", "postgres-data", "minio", "mlflow", "pgadmin", "proxy"}


def env(container, key):
    for e in container.inputs.get("envs", []):
        if e.startswith(key + "="):
            return e.split("=", 1)[1]
    return None


def upload(container, path):
    for u in container.inputs.get("uploads", []):
        if u["file"] == path:
            return u
    raise AssertionError(f"{path} not uploaded; have {[u['file'] for u in container.inputs.get('uploads', [])]}")


def test_inventory_one_container_per_service(deploy):
    d = deploy(runnerCount=0)
    assert len(d.of_type("dap:index:ServiceHost")) == 1
    roles = [c.inputs["name"].removeprefix("dap-dev-") for c in d.of_type(CONTAINER)]
    assert sorted(roles) == sorted(SERVICES)
    assert all(r.parent_name == "service" for r in d.of_type(CONTAINER))


@pytest.mark.parametrize("enabled", [False, True])
def test_portainer_only_when_enabled(deploy, enabled):
    d = deploy(runnerCount=0, portainer={"enabled": enabled})
    names = set(d.containers())
    assert ("dap-dev-portainer" in names) is enabled
    hostnames = {r.name for r in d.of_type("dap:index:ProxyRoute")}
    assert ("service-portainer-route" in hostnames) is enabled
    sockets = [c for c in d.containers().values() if any(v.get("hostPath") == "/var/run/docker.sock" for v in c.inputs.get("volumes", []))]
    assert [c.inputs["name"] for c in sockets] == (["dap-dev-portainer"] if enabled else [])


def test_one_proxy_route_per_routed_name(deploy):
    d = deploy(runnerCount=0)
    routes = {r.name for r in d.of_type("dap:index:ProxyRoute")}
    assert routes == {
        f"service-{n}-route"
        for n in ("gitlab", "registry", "mlflow", "s3", "minio-console", "pgadmin", "postgres-service", "postgres-data", "gitlab-ssh")
    }


def conf_of(d):
    proxy = d.containers()["dap-dev-proxy"]
    return upload(proxy, "/etc/nginx/nginx.conf")["content"]


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
    member = {name: {n["name"] for n in c.inputs["networksAdvanced"]} for name, c in d.containers().items()}
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


def test_mlflow_wiring(deploy):
    d = deploy(runnerCount=0)
    mlflow = d.containers()["dap-dev-mlflow"]
    cmd = mlflow.inputs["command"]
    uri = cmd[cmd.index("--backend-store-uri") + 1]
    assert uri.startswith("postgresql+psycopg://mlflow@postgres-service:5432/mlflow?")
    assert "sslmode=verify-full" in uri and "sslrootcert=/etc/dap/ca.crt" in uri
    assert "--serve-artifacts" in cmd and cmd[cmd.index("--artifacts-destination") + 1] == "s3://mlflow"
    assert cmd[cmd.index("--workers") + 1] == "2"  # 4 uvicorn workers exceed the 2 GB limit (measured: OOM)
    allowed = cmd[cmd.index("--allowed-hosts") + 1].split(",")
    assert "mlflow.dap.example.test" in allowed and "mlflow:5000" in allowed
    # the public S3 name, reached through the proxy's alias on the storage network, so presigned URLs
    # that MLflow hands to clients point where clients can go
    assert env(mlflow, "MLFLOW_S3_ENDPOINT_URL") == "https://s3.dap.example.test"
    assert env(mlflow, "AWS_CA_BUNDLE") == "/etc/dap/public-ca.crt"
    storage = [n for n in d.containers()["dap-dev-proxy"].inputs["networksAdvanced"] if n["name"] == "dap-dev-storage"][0]
    assert storage["aliases"] == ["s3.dap.example.test"]
    # credentials come from files, not the environment
    assert not any(re.search(r"PASSWORD|SECRET|AWS_ACCESS", e.split("=")[0]) for e in mlflow.inputs["envs"])
    pgpass = upload(mlflow, "/run/secrets/dap/pgpass")
    assert pgpass["permissions"] == "0400"
    assert pgpass["content"].startswith("postgres-service:5432:mlflow:mlflow:")
    aws = upload(mlflow, "/run/secrets/dap/aws_credentials")["content"]
    assert "aws_access_key_id" in aws and "aws_secret_access_key" in aws
    # the same CA that signed postgres-service's certificate
    ca = upload(mlflow, "/etc/dap/ca.crt")["content"]
    pg = d.containers()["dap-dev-postgres-service"]
    assert upload(pg, "/run/secrets/dap/server.crt")["content"].endswith(ca)
    # the bucket and its key exist before MLflow starts
    bucket_step = d.named("service-minio-mlflow-bucket")
    assert bucket_step.urn in mlflow.depends_on


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
    assert "u.password = pw" in d.named("service-gitlab-admin-token").inputs["create"]


def test_bucket_key_is_scoped_to_the_bucket(deploy):
    d = deploy(runnerCount=0)
    step = d.named("service-minio-mlflow-bucket")
    create = step.inputs["create"]
    assert "mc mb --ignore-existing local/mlflow" in create
    assert '"arn:aws:s3:::mlflow"' in create and '"arn:aws:s3:::mlflow/*"' in create
    assert "arn:aws:s3:::*" not in create
    assert step.inputs["environment"] == {"DOCKER_HOST": "unix:///var/run/docker.sock"}


def test_postgres_tls_and_auth(deploy):
    d = deploy(runnerCount=0, postgresData={"memoryMb": 8192})
    for role in ("postgres-service", "postgres-data"):
        c = d.containers()[f"dap-dev-{role}"]
        assert env(c, "POSTGRES_PASSWORD_FILE")
        assert env(c, "POSTGRES_PASSWORD") is None
        assert c.inputs["shmSize"] >= 256
        conf = upload(c, "/etc/dap/postgresql.conf")["content"]
        assert "ssl = on" in conf
        hba = upload(c, "/etc/dap/pg_hba.conf")["content"]
        assert re.search(r"^hostssl\s+all\s+all\s+0\.0\.0\.0/0\s+scram-sha-256$", hba, re.M)
        assert not re.search(r"^host\s+.*(trust|md5|scram)", hba, re.M)
        assert "trust" not in hba
        assert upload(c, "/run/secrets/dap/server.key")["permissions"] == "0400"
    data_conf = upload(d.containers()["dap-dev-postgres-data"], "/etc/dap/postgresql.conf")["content"]
    assert "shared_buffers = '2048MB'" in data_conf and "effective_cache_size = '6144MB'" in data_conf
    assert d.containers()["dap-dev-postgres-data"].inputs["memory"] == 8192


def test_postgres_certificates_name_internal_and_external_hosts(deploy):
    d = deploy(runnerCount=0)
    csr = d.named("service-postgres-data-tls-csr")
    assert {"postgres-data.dap.example.test", "postgres-data"} <= set(csr.inputs["dnsNames"])
    proxy_csr = d.named("service-proxy-tls-csr")
    assert {"gitlab.dap.example.test", "registry.dap.example.test", "postgres-data.dap.example.test"} <= set(proxy_csr.inputs["dnsNames"])
    ca = d.named("stack-ca-cert")
    assert ca.inputs["isCaCertificate"] is True


def test_provided_tls_mode_serves_the_users_certificate(deploy):
    cert = "-----BEGIN CERTIFICATE-----\nUSERCERT\n-----END CERTIFICATE-----\n"
    d = deploy(runnerCount=0, tls={"mode": "provided", "certificate": cert, "privateKey": "-----BEGIN PRIVATE KEY-----\nmocksecret-user\n-----END PRIVATE KEY-----\n"})
    proxy = d.containers()["dap-dev-proxy"]
    assert upload(proxy, nginx.CERTIFICATE)["content"] == cert
    assert not [r for r in d.resources if r.name == "service-proxy-tls-csr"]
    assert d.named("stack-ca-cert")  # PostgreSQL certificates still come from the stack CA


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
