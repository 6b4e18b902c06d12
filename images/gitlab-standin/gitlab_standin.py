#!/usr/bin/env python3
"""GitLab STAND-IN (not GitLab). Python standard library only.

GitLab CE is an Omnibus bundle (Ruby on Rails, Go services, PostgreSQL, Redis, ...) that cannot
be built from Debian packages, PyPI or Go modules, so this small server answers the parts of
GitLab that the platform's Pulumi program uses:

  HTTP :80   GET  /-/health /-/readiness /-/liveness /help /users/sign_in (/ redirects there)
             GET  /api/v4/version, /api/v4/user                           (PAT)
             POST /api/v4/user/runners     runner_type, description, tag_list, run_untagged, ...
                                           (PAT) -> 201 {"id", "token": "glrt-...", "token_expires_at": null}
             GET  /api/v4/runners/all, /api/v4/runners, /api/v4/runners/:id  (PAT)
             DELETE /api/v4/runners/:id    (PAT) -> 204
             POST /api/v4/runners/verify   token -> 200 if known, else 403
             DELETE /api/v4/runners        token -> 204 (runner unregisters itself)
             POST /api/v4/jobs/request     token -> 204 (no jobs, ever), 403 for unknown tokens
  HTTP :5050 GET  /v2/ -> 401 with Docker-Distribution-API-Version: registry/2.0 (registry stub)

Personal access tokens are created with `gitlab-rails runner '<ruby>'` (see gitlab-rails), which
prints a new `glpat-...` token. State lives in /var/opt/gitlab/standin/state.json.
"""
import fcntl
import json
import os
import re
import secrets
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

STATE_DIR = os.environ.get("GITLAB_STANDIN_STATE_DIR", "/var/opt/gitlab/standin")
STATE_FILE = os.path.join(STATE_DIR, "state.json")
LOCK_FILE = os.path.join(STATE_DIR, "state.lock")
VERSION = os.environ.get("GITLAB_STANDIN_VERSION", "1.0.0")
# The GitLab version the API reports (what the program was written against), marked as a stand-in.
REPORTED_GITLAB_VERSION = os.environ.get("GITLAB_STANDIN_REPORTED_VERSION", "18.4.0-standin")


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class State:
    """JSON state shared by the HTTP server and gitlab-rails (separate processes): every access
    takes an exclusive flock and re-reads the file."""

    def __init__(self):
        os.makedirs(STATE_DIR, exist_ok=True)

    def _empty(self):
        return {"pats": {}, "runners": {}, "next_runner_id": 1}

    def transact(self, fn):
        with open(LOCK_FILE, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(STATE_FILE, encoding="utf-8") as f:
                    data = json.load(f)
            except FileNotFoundError:
                data = self._empty()
            before = json.dumps(data, sort_keys=True)
            result = fn(data)
            if json.dumps(data, sort_keys=True) != before:
                tmp = STATE_FILE + ".tmp"
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(data, f, indent=1, sort_keys=True)
                os.chmod(tmp, 0o600)
                os.replace(tmp, STATE_FILE)
            return result


STATE = State()


def new_pat(token=None, name="dap", scopes=None, revoke_same_name=False):
    token = token or "glpat-" + secrets.token_urlsafe(15).replace("-", "x").replace("_", "y")[:20]

    def add(d):
        if revoke_same_name:
            for t in [t for t, v in d["pats"].items() if v.get("name") == name]:
                del d["pats"][t]
        d["pats"][token] = {"name": name, "scopes": scopes or ["api"], "created_at": now_iso(),
                            "user": "root"}
    STATE.transact(add)
    return token


def runner_public(r, details=False):
    out = {
        "id": r["id"], "description": r.get("description", ""), "active": not r.get("paused", False),
        "paused": r.get("paused", False), "is_shared": r["runner_type"] == "instance_type",
        "runner_type": r["runner_type"], "name": r.get("name"), "online": r.get("contacted_at") is not None
        and time.time() - r.get("contacted_ts", 0) < 7200,
        "ip_address": r.get("ip_address", ""), "created_at": r["created_at"],
    }
    out["status"] = ("online" if out["online"] else "never_contacted" if not r.get("contacted_at")
                     else "offline")
    out["tag_list"] = r.get("tag_list", [])
    if details:
        out.update({"run_untagged": r.get("run_untagged", True), "locked": r.get("locked", False),
                    "access_level": r.get("access_level", "not_protected"),
                    "maximum_timeout": r.get("maximum_timeout"), "contacted_at": r.get("contacted_at"),
                    "version": r.get("version"), "maintenance_note": r.get("maintenance_note")})
    return out


def as_bool(v, default):
    if v is None:
        return default
    if isinstance(v, bool):
        return v
    return str(v).strip().lower() in ("1", "true", "yes", "on")


def as_list(v):
    if v is None:
        return []
    if isinstance(v, list):
        return [str(x).strip() for x in v if str(x).strip()]
    return [x.strip() for x in str(v).split(",") if x.strip()]


SIGN_IN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · GitLab (stand-in)</title></head>
<body>
<h1>GitLab stand-in</h1>
<p>This is <strong>dap-offline/gitlab-standin</strong>, a small stand-in for GitLab used where the
real GitLab image cannot be built. It serves the health, runner and registry endpoints the
platform uses; there is no web UI, no repositories and no CI jobs.</p>
<form action="/users/sign_in" method="post" data-testid="sign-in-form">
<label for="user_login">Username or primary email</label> <input id="user_login" name="user[login]">
<label for="user_password">Password</label> <input id="user_password" name="user[password]" type="password">
<button type="submit" disabled>Sign in</button>
</form>
</body></html>
"""


class Handler(BaseHTTPRequestHandler):
    server_version = "nginx"  # what GitLab's bundled nginx reports
    sys_version = ""
    protocol_version = "HTTP/1.1"

    # ---- helpers
    def log_message(self, fmt, *args):
        sys.stderr.write("%s [%s] %s\n" % (self.address_string(), self.server.name, fmt % args))

    def send(self, code, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        if code != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("X-Gitlab-Standin", VERSION)
        self.end_headers()
        if code != 204 and self.command != "HEAD":
            self.wfile.write(body)

    def params(self):
        """Query string + form or JSON body, GitLab style."""
        q = {k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if raw:
            if ctype == "application/json" or raw[:1] in (b"{", b"["):
                try:
                    body = json.loads(raw)
                    if isinstance(body, dict):
                        q.update(body)
                except ValueError:
                    pass
            else:
                for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items():
                    if k.endswith("[]"):
                        q[k[:-2]] = v
                    else:
                        q[k] = v[-1]
        return q

    def pat(self):
        tok = self.headers.get("PRIVATE-TOKEN")
        auth = self.headers.get("Authorization") or ""
        if not tok and auth.lower().startswith("bearer "):
            tok = auth[7:].strip()
        if not tok:
            return None
        return STATE.transact(lambda d: tok if tok in d["pats"] else None)

    def unauthorized(self):
        self.send(401, {"message": "401 Unauthorized"})

    # ---- dispatch
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if self.server.name == "registry":
            return self.registry()
        path = urlparse(self.path).path.rstrip("/") or "/"
        if path == "/-/health":
            return self.send(200, "GitLab OK", "text/plain; charset=utf-8")
        if path == "/-/readiness":
            return self.send(200, {"status": "ok", "master_check": [{"status": "ok"}]})
        if path == "/-/liveness":
            return self.send(200, {"status": "ok"})
        if path == "/":
            return self.send(302, "", "text/html", {"Location": "/users/sign_in"})
        if path in ("/users/sign_in", "/help"):
            return self.send(200, SIGN_IN_PAGE, "text/html; charset=utf-8")
        if path.startswith("/api/v4/"):
            return self.api("GET", path[len("/api/v4"):])
        return self.send(404, {"message": "404 Not Found"})

    def do_POST(self):
        if self.server.name == "registry":
            return self.registry()
        path = urlparse(self.path).path.rstrip("/")
        if path == "/users/sign_in":
            self.params()
            return self.send(422, SIGN_IN_PAGE, "text/html; charset=utf-8")
        if path.startswith("/api/v4/"):
            return self.api("POST", path[len("/api/v4"):])
        return self.send(404, {"message": "404 Not Found"})

    def do_DELETE(self):
        if self.server.name == "registry":
            return self.registry()
        path = urlparse(self.path).path.rstrip("/")
        if path.startswith("/api/v4/"):
            return self.api("DELETE", path[len("/api/v4"):])
        return self.send(404, {"message": "404 Not Found"})

    def do_PUT(self):
        if self.server.name == "registry":
            return self.registry()
        return self.send(405, {"message": "405 Method Not Allowed"})

    # ---- container registry stub (:5050)
    def registry(self):
        realm = os.environ.get("GITLAB_STANDIN_REGISTRY_REALM", "http://gitlab/jwt/auth")
        self.send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required",
                                    "detail": None}]}, "application/json",
                  {"Docker-Distribution-API-Version": "registry/2.0",
                   "WWW-Authenticate": 'Bearer realm="%s",service="container_registry"' % realm})

    # ---- REST API
    def api(self, method, path):
        p = self.params() if method in ("POST", "DELETE", "PUT") else \
            {k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()}

        # Runner-token endpoints (no PAT)
        if method == "POST" and path == "/runners/verify":
            tok = p.get("token")
            r = STATE.transact(lambda d: next((x for x in d["runners"].values() if x["token"] == tok), None))
            if not tok or not r:
                return self.send(403, {"message": "403 Forbidden"})
            return self.send(200, {"id": r["id"], "token": r["token"], "token_expires_at": None})
        if method == "DELETE" and path == "/runners":
            tok = p.get("token")

            def rm(d):
                for k, x in list(d["runners"].items()):
                    if x["token"] == tok:
                        del d["runners"][k]
                        return True
                return False
            return self.send(204) if tok and STATE.transact(rm) else self.send(403, {"message": "403 Forbidden"})
        if method == "POST" and path == "/jobs/request":
            tok = p.get("token")
            info = p.get("info") if isinstance(p.get("info"), dict) else {}

            def contact(d):
                for x in d["runners"].values():
                    if x["token"] == tok:
                        x["contacted_at"], x["contacted_ts"] = now_iso(), time.time()
                        x["ip_address"] = self.client_address[0]
                        if info.get("version"):
                            x["version"] = info["version"]
                        return True
                return False
            if not tok or not STATE.transact(contact):
                return self.send(403, {"message": "403 Forbidden"})
            return self.send(204, headers={"X-GitLab-Last-Update": secrets.token_hex(8)})
        if method == "POST" and path == "/runners":
            return self.send(410, {"message": "410 Gone: runner registration tokens are disabled "
                                   "(stand-in); use POST /api/v4/user/runners"})

        # PAT endpoints
        if not self.pat():
            return self.unauthorized()
        if method == "GET" and path == "/version":
            return self.send(200, {"version": REPORTED_GITLAB_VERSION, "revision": "standin",
                                   "kas": {"enabled": False}, "enterprise": False})
        if method == "GET" and path == "/user":
            return self.send(200, {"id": 1, "username": "root", "name": "Administrator",
                                   "state": "active", "is_admin": True})
        if method == "POST" and path == "/user/runners":
            rtype = p.get("runner_type")
            if rtype not in ("instance_type", "group_type", "project_type"):
                return self.send(400, {"error": "runner_type does not have a valid value"})
            token = "glrt-" + secrets.token_urlsafe(20).replace("-", "x").replace("_", "y")[:26]

            def create(d):
                rid = d["next_runner_id"]
                d["next_runner_id"] = rid + 1
                d["runners"][str(rid)] = {
                    "id": rid, "token": token, "runner_type": rtype,
                    "description": p.get("description") or "", "tag_list": as_list(p.get("tag_list")),
                    "run_untagged": as_bool(p.get("run_untagged"), True),
                    "paused": as_bool(p.get("paused"), False), "locked": as_bool(p.get("locked"), False),
                    "access_level": p.get("access_level") or "not_protected",
                    "maximum_timeout": p.get("maximum_timeout"),
                    "maintenance_note": p.get("maintenance_note"), "created_at": now_iso(),
                    "contacted_at": None, "group_id": p.get("group_id"), "project_id": p.get("project_id"),
                }
                return rid
            rid = STATE.transact(create)
            return self.send(201, {"id": rid, "token": token, "token_expires_at": None})
        if method == "GET" and path in ("/runners/all", "/runners"):
            runners = STATE.transact(lambda d: list(d["runners"].values()))
            out = [runner_public(r) for r in sorted(runners, key=lambda r: r["id"])]
            if p.get("type"):
                out = [r for r in out if r["runner_type"] == p["type"]]
            if p.get("status"):
                out = [r for r in out if r["status"] == p["status"]]
            if p.get("paused") is not None:
                out = [r for r in out if r["paused"] == as_bool(p["paused"], False)]
            if p.get("tag_list"):
                want = set(as_list(p["tag_list"]))
                out = [r for r in out if want <= set(r["tag_list"])]
            return self.send(200, out, headers={"X-Total": str(len(out)), "X-Page": "1",
                                                "X-Total-Pages": "1"})
        m = re.fullmatch(r"/runners/(\d+)", path)
        if m:
            rid = m.group(1)
            if method == "GET":
                r = STATE.transact(lambda d: d["runners"].get(rid))
                return self.send(200, runner_public(r, True)) if r else \
                    self.send(404, {"message": "404 Runner Not Found"})
            if method == "DELETE":
                gone = STATE.transact(lambda d: d["runners"].pop(rid, None))
                return self.send(204) if gone else self.send(404, {"message": "404 Runner Not Found"})
        return self.send(404, {"message": "404 Not Found"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, name):
        self.name = name
        super().__init__(addr, Handler)


def serve():
    http_port = int(os.environ.get("GITLAB_STANDIN_HTTP_PORT", "80"))
    reg_port = int(os.environ.get("GITLAB_STANDIN_REGISTRY_PORT", "5050"))
    servers = [Server(("0.0.0.0", http_port), "http"), Server(("0.0.0.0", reg_port), "registry")]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(f"gitlab-standin {VERSION}: HTTP on :{http_port}, registry stub on :{reg_port} "
          f"(state: {STATE_FILE})", flush=True)
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    serve()
