#!/usr/bin/env python3
"""Portainer STAND-IN (not Portainer). Python standard library only.

Portainer CE (Go backend github.com/portainer/portainer, not served by the Go module proxy, plus
an Angular frontend) cannot be built here. This server is installed as /portainer (the official
image's entrypoint) and answers:

  GET  /api/system/status, /api/status   {"Version": ..., "InstanceID": ...}
  GET  /api/system/version
  GET  /api/users/admin/check             204 when the admin user exists, else 404
  POST /api/users/admin/init              {"Username", "Password"} (only while no admin exists)
  POST /api/auth                          {"Username"|"username", "Password"|"password"} -> {"jwt"}
  GET  /api/endpoints                     (JWT) the local Docker environment when a socket is mounted
  GET  /                                  a page saying this is a stand-in

Flags (Portainer's spelling): --admin-password-file PATH (creates the admin user `admin` on first
start with that password), --admin-password HASH (accepted; only non-bcrypt plain values can be
checked), --bind ADDR (default :9000), --data DIR (default /data), -H/--host URL; other flags
such as --http-enabled, --bind-https, --tunnel-port, --tlsskipverify, --log-level are accepted
and ignored.

State: <data dir>/portainer.db, the file name the real Portainer uses for its BoltDB (here it is
JSON, mode 0600: instance id, JWT key, admin user with a salted PBKDF2 hash). As with the real
Portainer, --admin-password-file only applies while no admin exists, so the same recovery works
for both: move portainer.db aside and restart, and the server initialises again from
--admin-password-file. A state file of stand-in 1.0.0 (portainer-standin.json) is renamed to
portainer.db at start when no portainer.db exists. A portainer.db that is not stand-in JSON (a
real Portainer database) is left untouched and the server refuses to start.
"""
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

VERSION = os.environ.get("PORTAINER_STANDIN_VERSION", "1.0.0")
REPORTED_VERSION = os.environ.get("PORTAINER_STANDIN_REPORTED_VERSION", "2.33.0-standin")

VALUE_FLAGS = {"--admin-password-file", "--admin-password", "--bind", "-p", "--data", "-d",
               "-H", "--host", "--bind-https", "--tunnel-port", "--tunnel-addr", "--log-level",
               "--log-mode", "--sslcert", "--sslkey", "--tlscacert", "--tlscert", "--tlskey",
               "--base-url", "--snapshot-interval", "--logo", "--templates", "-l", "--label",
               "--hide-label", "--edge-compute", "--secret-key-name", "--ssl"}


def parse_args(argv):
    opts = {"bind": ":9000", "data": "/data", "host": None, "admin_password_file": None,
            "admin_password": None, "ignored": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        key, val = a, None
        if a.startswith("--") and "=" in a:
            key, val = a.split("=", 1)
        elif a in VALUE_FLAGS and i + 1 < len(argv):
            val = argv[i + 1]
            i += 1
        name = {"--admin-password-file": "admin_password_file", "--admin-password": "admin_password",
                "--bind": "bind", "-p": "bind", "--data": "data", "-d": "data", "-H": "host",
                "--host": "host"}.get(key)
        if name:
            opts[name] = val
        else:
            opts["ignored"].append(a)
        i += 1
    return opts


def pw_hash(password, salt=None):
    salt = salt or secrets.token_hex(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 200_000)
    return f"pbkdf2${salt}${dk.hex()}"


def pw_check(password, stored):
    if not stored:
        return False
    if stored.startswith("pbkdf2$"):
        _, salt, _ = stored.split("$", 2)
        return hmac.compare_digest(pw_hash(password, salt), stored)
    if stored.startswith("$2"):  # bcrypt (from --admin-password): not checkable without a library
        return False
    return hmac.compare_digest(password, stored)


class Store:
    FILE = "portainer.db"               # the real Portainer's BoltDB file name
    OLD_FILE = "portainer-standin.json"  # stand-in 1.0.0

    def __init__(self, data_dir):
        self.dir = data_dir
        os.makedirs(self.dir, exist_ok=True)
        self.file = os.path.join(self.dir, self.FILE)
        old = os.path.join(self.dir, self.OLD_FILE)
        if os.path.exists(old):
            if os.path.exists(self.file):
                print(f"note: both {self.FILE} and {self.OLD_FILE} exist in {self.dir}; using "
                      f"{self.FILE}, {self.OLD_FILE} is ignored", flush=True)
            else:
                os.replace(old, self.file)
                print(f"migrated {old} -> {self.file}", flush=True)
        try:
            with open(self.file, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            self.d = {"instance_id": str(uuid.uuid4()), "admin": None,
                      "jwt_key": secrets.token_hex(32)}
            self.save()
            print(f"initialised a new {self.file}", flush=True)
            return
        try:
            self.d = json.loads(raw.decode("utf-8"))
            if not isinstance(self.d, dict) or "jwt_key" not in self.d:
                raise ValueError("not a stand-in state")
        except ValueError:
            raise SystemExit(f"portainer-standin: {self.file} is not a stand-in state file (a real "
                             f"Portainer BoltDB?); it is left untouched. Move it aside and restart "
                             f"to initialise again from --admin-password-file.")

    def save(self):
        tmp = self.file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.d, f)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.file)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_jwt(key, username):
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"id": 1, "username": username, "role": 1,
                           "exp": int(time.time()) + 8 * 3600}).encode())
    sig = b64(hmac.new(key.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest())
    return f"{header}.{body}.{sig}"


def check_jwt(key, token):
    try:
        header, body, sig = token.split(".")
        good = b64(hmac.new(key.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(sig, good):
            return False
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return claims.get("exp", 0) > time.time()
    except (ValueError, TypeError):
        return False


PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Portainer (stand-in)</title>
</head><body><h1>Portainer stand-in</h1><p>This is <strong>dap-offline/portainer-standin</strong>,
a small stand-in for Portainer CE used where the real image cannot be built. It answers the
status and authentication API only; it has no user interface and does not manage Docker.</p>
</body></html>"""


def make_handler(store, opts):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "portainer-standin/" + VERSION
        sys_version = ""

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

        def send(self, code, body=None, ctype="application/json"):
            data = b"" if body is None else (json.dumps(body).encode()
                                             if not isinstance(body, str) else body.encode())
            self.send_response(code)
            if code != 204:
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Portainer-Standin", VERSION)
            self.end_headers()
            if code != 204 and self.command != "HEAD":
                self.wfile.write(data)

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                return json.loads(self.rfile.read(n) or b"{}") if n else {}
            except ValueError:
                return {}

        def authed(self):
            auth = self.headers.get("Authorization") or ""
            return auth.lower().startswith("bearer ") and check_jwt(store.d["jwt_key"], auth[7:].strip())

        def status(self):
            return {"Version": REPORTED_VERSION, "InstanceID": store.d["instance_id"],
                    "Edition": "CE", "Standin": True, "StandinVersion": VERSION,
                    "DemoEnvironment": {"Enabled": False, "Users": [], "Environments": []}}

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            path = urlparse(self.path).path.rstrip("/") or "/"
            if path in ("/api/system/status", "/api/status"):
                return self.send(200, self.status())
            if path == "/api/system/version":
                return self.send(200, {"ServerVersion": REPORTED_VERSION, "DatabaseVersion": REPORTED_VERSION,
                                       "Build": {"BuildNumber": "standin"}})
            if path == "/api/users/admin/check":
                return self.send(204) if store.d["admin"] else self.send(
                    404, {"message": "No administrator account found inside the database",
                          "details": "Object not found inside the database"})
            if path == "/api/endpoints":
                if not self.authed():
                    return self.send(401, {"message": "Unauthorized", "details": "Unauthorized"})
                sock = (opts["host"] or "unix:///var/run/docker.sock")
                eps = []
                if not sock.startswith("unix://") or os.path.exists(sock[len("unix://"):]):
                    eps.append({"Id": 1, "Name": "local", "Type": 1, "URL": sock, "Status": 1})
                return self.send(200, eps)
            if path == "/":
                return self.send(200, PAGE, "text/html; charset=utf-8")
            return self.send(404, {"message": "Not found", "details": "stand-in"})

        def do_POST(self):
            path = urlparse(self.path).path.rstrip("/")
            b = self.body()
            if path == "/api/users/admin/init":
                if store.d["admin"]:
                    return self.send(409, {"message": "Unable to create administrator user",
                                           "details": "An administrator user already exists"})
                user, pw = b.get("Username") or b.get("username"), b.get("Password") or b.get("password")
                if not user or not pw:
                    return self.send(400, {"message": "Invalid request payload"})
                store.d["admin"] = {"username": user, "password": pw_hash(pw)}
                store.save()
                return self.send(200, {"Id": 1, "Username": user, "Role": 1})
            if path == "/api/auth":
                user, pw = b.get("Username") or b.get("username"), b.get("Password") or b.get("password")
                a = store.d["admin"]
                if a and user == a["username"] and pw is not None and pw_check(pw, a["password"]):
                    return self.send(200, {"jwt": make_jwt(store.d["jwt_key"], user)})
                return self.send(422, {"message": "Invalid credentials",
                                       "details": "Unauthorized"})
            return self.send(404, {"message": "Not found", "details": "stand-in"})

    return Handler


def main(argv):
    if argv and argv[0] in ("--version", "-v"):
        print(f"portainer-standin {VERSION} (reports {REPORTED_VERSION})")
        return 0
    if argv and argv[0] in ("--help", "-h"):
        print(__doc__)
        return 0
    opts = parse_args(argv)
    store = Store(opts["data"])
    if not store.d["admin"]:
        if opts["admin_password_file"]:
            with open(opts["admin_password_file"], encoding="utf-8") as f:
                pw = f.read().strip()
            store.d["admin"] = {"username": "admin", "password": pw_hash(pw)}
            store.save()
            print("created the admin user `admin` from --admin-password-file", flush=True)
        elif opts["admin_password"]:
            store.d["admin"] = {"username": "admin", "password": opts["admin_password"]}
            store.save()
    host, _, port = opts["bind"].rpartition(":")
    srv = ThreadingHTTPServer((host or "0.0.0.0", int(port)), make_handler(store, opts))
    srv.daemon_threads = True
    print(f"portainer-standin {VERSION}: STAND-IN for Portainer CE, HTTP on {opts['bind']}, "
          f"data {opts['data']}" + (f", ignored flags: {' '.join(opts['ignored'])}" if opts["ignored"] else ""),
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
