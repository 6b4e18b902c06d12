"""The rendered proxy configuration, checked by the real nginx: `nginx -t`, then live requests."""

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dap_components.render.nginx import render_htpasswd, render_nginx_conf
from dap_components.routes import HttpRoute, StreamRoute

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REQUIRED = os.environ.get("DAP_REQUIRE_TOOLS") == "1"  # set by .ci/run: a missing tool is a failure there

pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists() and not REQUIRED, reason="nginx not installed (make setup installs it)"
)

DOMAIN = "dap.example.test"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A real CA and a leaf for the routed names (EC P-256, as the program issues)."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=test CA", cwd=d)
    sans = ",".join(f"DNS:{n}.{DOMAIN}" for n in ("gitlab", "mlflow", "s3"))
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key",
            "-out", "leaf.csr", "-subj", f"/CN=gitlab.{DOMAIN}", cwd=d)
    (d / "ext.cnf").write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.crt",
            "-days", "2", "-extfile", "ext.cnf", cwd=d)
    (d / "fullchain.pem").write_text((d / "leaf.crt").read_text() + (d / "ca.crt").read_text())
    return d


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(pki, routes, streams=(), https=443, http=80, public_https=443, user=None):
    return render_nginx_conf(
        routes, streams, https_port=https, http_port=http, public_https_port=public_https,
        certificate=str(pki / "fullchain.pem"), certificate_key=str(pki / "leaf.key"),
        user=user, pid_file=str(pki / "nginx.pid"), resolver="127.0.0.1",
    )


PLATFORM_ROUTES = [
    HttpRoute(f"gitlab.{DOMAIN}", "gitlab", 80, max_body_size="512m"),
    HttpRoute(f"registry.{DOMAIN}", "gitlab", 5050, max_body_size="0", buffering=False),
    HttpRoute(f"mlflow.{DOMAIN}", "mlflow", 5000, basic_auth_file="/etc/nginx/dap/htpasswd/mlflow"),
    HttpRoute(f"s3.{DOMAIN}", "minio", 9000, max_body_size="0", buffering=False, timeout_seconds=300),
]
PLATFORM_STREAMS = [
    StreamRoute("postgres-service", 54321, "postgres-service", 5432),
    StreamRoute("postgres-data", 54322, "postgres-data", 5432),
    StreamRoute("gitlab-ssh", 2222, "gitlab", 22),
]


def test_nginx_accepts_the_platform_configuration(pki, tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(pki, PLATFORM_ROUTES, PLATFORM_STREAMS))
    res = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "test is successful" in res.stderr


def test_nginx_rejects_a_broken_configuration(pki, tmp_path):
    """The check above can fail: a config naming a missing certificate does."""
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(pki, PLATFORM_ROUTES).replace(str(pki / "fullchain.pem"), str(pki / "missing.pem")))
    assert subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True).returncode != 0


def test_duplicate_names_and_port_clashes_are_refused():
    with pytest.raises(ValueError, match="duplicate hostnames"):
        render_nginx_conf([HttpRoute("a.x.test", "a", 1), HttpRoute("a.x.test", "b", 2)])
    with pytest.raises(ValueError, match="stream ports"):
        render_nginx_conf([], [StreamRoute("a", 443, "a", 1)])


class Upstream(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"upstream saw {self.headers['Host']} proto={self.headers['X-Forwarded-Proto']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def live_proxy(pki, tmp_path):
    """nginx running the rendered config on free ports, in front of a local HTTP upstream."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    up_port = upstream.server_address[1]
    https, http = free_port(), free_port()
    htpasswd = tmp_path / "htpasswd"
    # a real bcrypt hash ($2b$) of "s3cret", verified by the system crypt(3) as nginx does
    import crypt  # noqa: deprecated but present on 3.11; libxcrypt does bcrypt

    htpasswd.write_text(render_htpasswd("mlflow", crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH))))
    routes = [
        HttpRoute(f"gitlab.{DOMAIN}", "127.0.0.1", up_port),
        HttpRoute(f"mlflow.{DOMAIN}", "127.0.0.1", up_port, basic_auth_file=str(htpasswd)),
    ]
    conf = tmp_path / "nginx.conf"
    # workers as root only because pytest's temp dirs are private to root
    conf.write_text(render(pki, routes, https=https, http=http, public_https=https, user="root"))
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", https), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield https, http
    proc.terminate()
    proc.wait(timeout=10)
    upstream.shutdown()


def get(port, host, pki, path="/", tls=True, auth=None):
    if tls:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
        # SNI and certificate name = the routed host, connection to loopback
        conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname=host)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Host": host}
    if auth:
        import base64

        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    return resp.status, dict(resp.getheaders()), resp.read().decode()


def test_live_routing_tls_redirects_and_auth(live_proxy, pki):
    https, http = live_proxy
    status, headers, body = get(https, f"gitlab.{DOMAIN}", pki)
    assert status == 200 and body == f"upstream saw gitlab.{DOMAIN} proto=https"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    # unknown names: 404, never another service
    ctx_status, _, body = get(https, f"s3.{DOMAIN}", pki)  # a name on the certificate but not routed
    assert ctx_status == 404 and "upstream" not in body
    # port 80 redirects known names to HTTPS and sends no HSTS
    status, headers, _ = get(http, f"gitlab.{DOMAIN}", pki, tls=False, path="/x?y=1")
    assert status == 301 and headers["Location"] == f"https://gitlab.{DOMAIN}:{https}/x?y=1"
    assert "Strict-Transport-Security" not in headers
    status, _, _ = get(http, "unknown.example", pki, tls=False)
    assert status == 404
    # MLflow needs basic auth; the bcrypt line works with the real crypt(3)
    assert get(https, f"mlflow.{DOMAIN}", pki)[0] == 401
    assert get(https, f"mlflow.{DOMAIN}", pki, auth="mlflow:wrong")[0] == 401
    assert get(https, f"mlflow.{DOMAIN}", pki, auth="mlflow:s3cret")[0] == 200


def test_live_tls_versions(live_proxy, pki):
    https, _ = live_proxy
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        ctx.wrap_socket(socket.create_connection(("127.0.0.1", https), timeout=5), server_hostname=f"gitlab.{DOMAIN}")
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", https), timeout=5), server_hostname=f"gitlab.{DOMAIN}") as s:
        assert s.version() == "TLSv1.3"
