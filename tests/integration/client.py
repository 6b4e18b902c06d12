"""How the real deployment tests reach a deployed platform: as its users do, through the TLS proxy published on
the loopback address, with the credentials the stack outputs. Plain helpers, no tests here."""

from __future__ import annotations

import base64
import contextlib
import http.cookiejar
import json
import re
import socket
import ssl
import subprocess
import time
import uuid
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Optional

LOOPBACK = "127.0.0.1"


@contextlib.contextmanager
def platform_dns(domain: str, address: str = LOOPBACK):
    """Resolve *.<domain> to ``address`` (the loopback address by default) inside this test process only."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith("." + domain):
            host = address
        return real(host, *args, **kwargs)

    socket.getaddrinfo = fake
    try:
        yield
    finally:
        socket.getaddrinfo = real


class PlatformClient:
    """The stack outputs of one deployment, and the ways to use its services."""

    def __init__(self, domain: str, https_port: int, outputs: dict[str, Any], workdir: Path, address: str = LOOPBACK):
        self.domain = domain
        self.address = address  # where the platform's names resolve
        self.https_port = https_port
        self.workdir = workdir
        self.outputs = outputs
        self.creds = outputs["credentials"]
        self.ca = workdir / "ca.crt"
        self.ca.write_text(outputs["caCertificate"])
        self.internal_ca = workdir / "internal-ca.crt"
        self.internal_ca.write_text(outputs["internalCaCertificate"])

    def url(self, name: str, path: str = "/") -> str:
        return f"https://{name}.{self.domain}:{self.https_port}{path}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def https(self, name, path="/", auth=None, method="GET", data: Optional[bytes] = None, headers=None, ctx=None):
        req = urllib.request.Request(self.url(name, path), method=method, data=data, headers=headers or {})
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
        with platform_dns(self.domain, self.address):
            try:
                with urllib.request.urlopen(req, context=ctx or self.ssl_context(), timeout=30) as resp:
                    return resp.status, dict(resp.headers), resp.read().decode(errors="replace")
            except urllib.error.HTTPError as err:
                return err.code, dict(err.headers), err.read().decode(errors="replace")

    def jupyter_execute(self, environment: str, kernel: str, code: str, timeout: float = 120) -> str:
        """Run ``code`` in a new ``kernel`` of a dev environment's Jupyter, through the proxy, as a notebook
        does (REST to start the kernel, the websocket channels to execute); returns what the cell printed and
        fails on an error reply."""
        import websocket

        token = self.outputs["devEnvironmentSecrets"][environment]["jupyterToken"]
        auth = {"Authorization": f"token {token}", "Content-Type": "application/json"}
        name = f"jupyter-{environment}"
        status, _, body = self.https(name, "/api/kernels", method="POST", data=json.dumps({"name": kernel}).encode(), headers=auth)
        assert status == 201, (status, body)
        kernel_id = json.loads(body)["id"]
        deadline = time.monotonic() + timeout
        try:
            with platform_dns(self.domain, self.address):
                ws = websocket.create_connection(
                    f"wss://{name}.{self.domain}:{self.https_port}/api/kernels/{kernel_id}/channels",
                    header=[f"Authorization: token {token}"],
                    sslopt={"ca_certs": str(self.ca)},
                    timeout=timeout,
                )
            session = uuid.uuid4().hex

            def request(msg_type: str, content: dict) -> str:
                msg_id = uuid.uuid4().hex
                ws.send(json.dumps({
                    "header": {"msg_id": msg_id, "msg_type": msg_type, "username": "tests", "session": session,
                               "version": "5.3", "date": ""},
                    "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [], "content": content,
                }))
                return msg_id

            def messages(wait: float):
                """Kernel messages for ``wait`` seconds at most (never past the deadline), frame by frame, control
                frames included (Jupyter pings the socket), so no wait outlasts its bound."""
                until = min(deadline, time.monotonic() + wait)
                while time.monotonic() < until:
                    ws.settimeout(max(0.1, until - time.monotonic()))
                    try:
                        opcode, frame = ws.recv_data_frame(True)
                    except websocket.WebSocketTimeoutException:
                        return
                    if opcode == websocket.ABNF.OPCODE_TEXT:
                        yield json.loads(frame.data)

            try:
                # as a notebook does: ask for kernel_info until the kernel answers (requests sent before it is
                # up can be lost), then execute
                while True:
                    assert time.monotonic() < deadline, f"the {kernel} kernel did not answer within {timeout} s"
                    info_id = request("kernel_info_request", {})
                    if any(m.get("parent_header", {}).get("msg_id") == info_id and m["header"]["msg_type"] == "kernel_info_reply"
                           for m in messages(3)):
                        break
                msg_id = request("execute_request", {"code": code, "silent": False, "store_history": False,
                                                     "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
                out, reply = [], None
                for msg in messages(timeout):
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    kind = msg["header"]["msg_type"]
                    if kind == "stream":
                        out.append(msg["content"]["text"])
                    elif kind in ("execute_result", "display_data"):
                        out.append(msg["content"]["data"].get("text/plain", ""))
                    elif kind == "execute_reply":
                        reply = msg["content"]
                    elif kind == "status" and msg["content"]["execution_state"] == "idle" and reply is not None:
                        break
                assert reply is not None, f"no reply from the {kernel} kernel within {timeout} s"
                assert reply["status"] == "ok", f"{reply.get('ename')}: {reply.get('evalue')}"
                return "".join(out)
            finally:
                ws.close()
        finally:
            self.https(name, f"/api/kernels/{kernel_id}", method="DELETE", headers=auth)

    # -- service logins, each with the credentials the stack outputs (or others, to see them refused) --

    def mlflow_auth(self) -> tuple[str, str]:
        return self.creds["mlflow-username"], self.creds["mlflow-password"]

    def mlflow_env(self) -> dict[str, str]:
        """What an MLflow client needs here: basic auth, the CA for the server, and the CA for the presigned
        artifact URLs to https://s3.<domain> that plain `requests` follows."""
        return {"MLFLOW_TRACKING_USERNAME": self.creds["mlflow-username"], "MLFLOW_TRACKING_PASSWORD": self.creds["mlflow-password"],
                "MLFLOW_TRACKING_SERVER_CERT_PATH": str(self.ca), "REQUESTS_CA_BUNDLE": str(self.ca)}

    def portainer_login(self, password: Optional[str] = None) -> int:
        body = json.dumps({"username": self.creds["portainer-username"], "password": password or self.creds["portainer-password"]})
        return self.https("portainer", "/api/auth", method="POST", data=body.encode(), headers={"Content-Type": "application/json"})[0]

    def _session(self):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.ssl_context()), urllib.request.HTTPCookieProcessor(jar), _NoRedirect()
        )
        return opener

    def _form_login(self, name: str, page: str, token_re: str, token_field: str, post: str, fields: dict[str, str]) -> tuple[int, str, str]:
        """GET the login page (session cookie + CSRF token, matched by ``token_re``'s group ``value``), then POST
        the form; returns the status, the Location and the body of the answer, redirects not followed."""
        opener = self._session()
        with platform_dns(self.domain, self.address):
            with opener.open(self.url(name, page), timeout=30) as resp:
                html = resp.read().decode(errors="replace")
            m = re.search(token_re, html)
            assert m, f"no CSRF token on {name}{page}"
            data = urllib.parse.urlencode({**fields, token_field: m.group("value")}).encode()
            req = urllib.request.Request(self.url(name, post), data=data, method="POST")
            req.add_header("Referer", self.url(name, page))
            try:
                with opener.open(req, timeout=30) as resp:
                    return resp.status, resp.headers.get("Location", ""), resp.read().decode(errors="replace")
            except urllib.error.HTTPError as err:
                return err.code, err.headers.get("Location", ""), err.read().decode(errors="replace")

    def gitlab_sign_in(self, password: Optional[str] = None) -> bool:
        status, location, body = self._form_login(
            "gitlab", "/users/sign_in",
            r'name="authenticity_token"[^>]*value="(?P<value>[^"]+)"', "authenticity_token", "/users/sign_in",
            {"user[login]": self.creds["gitlab-root-username"], "user[password]": password or self.creds["gitlab-root-password"]},
        )
        if status == 302 and not location.rstrip("/").endswith("/users/sign_in"):
            return True
        assert status in (200, 302, 401, 422), (status, body[:300])
        return False

    def pgadmin_login(self, password: Optional[str] = None) -> bool:
        status, location, body = self._form_login(
            "pgadmin", "/login",
            r'"csrfToken": "(?P<value>[^"]+)"', "csrf_token", "/authenticate/login",
            {"email": self.creds["pgadmin-email"], "password": password or self.creds["pgadmin-password"], "language": "en"},
        )
        if status == 302 and "login" not in location:
            return True
        assert status in (200, 302, 401), (status, body[:300])
        return False

    def psql(self, role: str, user: str, password: str, dbname: str = "postgres", **extra):
        import psycopg

        port = {"postgres-service": 54321, "postgres-data": 54322}[role]
        return psycopg.connect(
            host=f"{role}.{self.domain}", hostaddr=self.address, port=port, dbname=dbname, user=user, password=password,
            sslmode="verify-full", sslrootcert=str(self.internal_ca), connect_timeout=15, **extra,
        )

    def s3(self, key_id: str, secret: str):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=f"https://s3.{self.domain}:{self.https_port}", verify=str(self.ca), aws_access_key_id=key_id,
            aws_secret_access_key=secret, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}),
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None

    def http_error_302(self, req, fp, code, msg, headers):
        return fp

    http_error_301 = http_error_303 = http_error_307 = http_error_302


# -- the Docker engine side --------------------------------------------------------------------------------


def docker(*args: str, input: Optional[str] = None, check: bool = True) -> str:
    res = subprocess.run(["docker", *args], input=input, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def containers(prefix: str) -> list[str]:
    return sorted(docker("ps", "-a", "--filter", f"name=^{prefix}-", "--format", "{{.Names}}").split())


def remove_volumes(prefix: str) -> None:
    """The volumes a deployment left (retained on destroy), for a test that owns them."""
    vols = docker("volume", "ls", "-q", "--filter", f"name=^{prefix}-", check=False).split()
    if vols:
        docker("volume", "rm", "-f", *vols, check=False)


def health(prefix: str) -> dict[str, str]:
    """container name -> "<status>/<health>", e.g. running/healthy."""
    names = containers(prefix)
    if not names:
        return {}
    out = docker("inspect", "-f", "{{.Name}} {{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", *names)
    return dict(line.lstrip("/").split(" ", 1) for line in out.splitlines())


def wait_healthy(prefix: str, timeout: float = 300) -> float:
    """Seconds until every container of ``prefix`` is running and healthy; fails with their states."""
    start = time.monotonic()
    states: dict[str, str] = {}
    while time.monotonic() - start < timeout:
        states = health(prefix)
        if states and set(states.values()) == {"running/healthy"}:
            return time.monotonic() - start
        time.sleep(0.5)
    raise AssertionError(f"not healthy after {timeout} s: {states}")


def gitlab_api(container: str, path: str, token: str, method: str = "GET") -> Any:
    """GitLab's API from inside its container (the token on stdin, never on a command line)."""
    script = f'read -r t; curl -sS --fail -X {method} -H "PRIVATE-TOKEN: $t" http://127.0.0.1/api/v4{path}'
    out = docker("exec", "-i", container, "sh", "-c", script, input=token + "\n")
    return json.loads(out) if out.strip() else None


def mint_gitlab_token(container: str, token: str, name: str = "dap-tests", scopes: tuple[str, ...] = ("api",)) -> None:
    """A personal access token of root for the tests, set the way the program sets its own."""
    ruby = (
        "t = STDIN.read.strip; u = User.find_by_username('root'); "
        f"u.personal_access_tokens.where(name: '{name}').each(&:revoke!); "
        f"pat = u.personal_access_tokens.build(name: '{name}', scopes: {list(scopes)!r}, expires_at: 2.days.from_now); "
        "pat.set_token(t); pat.save!"
    )
    docker("exec", "-i", container, "gitlab-rails", "runner", ruby, input=token)
