#!/usr/bin/env python3
"""GitLab STAND-IN (not GitLab). Python standard library only.

GitLab CE is an Omnibus bundle (Ruby on Rails, Go services, PostgreSQL, Redis, ...) that cannot
be built from Debian packages, PyPI or Go modules, so this small server answers the parts of
GitLab that the platform's Pulumi program uses:

  HTTP :80   GET  /-/health /-/readiness /-/liveness /help
             GET  /users/sign_in    sign-in form: hidden `authenticity_token`, sets `_gitlab_session`
             POST /users/sign_in    form user[login], user[password], authenticity_token (+ cookie):
                                    bad/missing token -> 422; root + right password -> 302
                                    Location: <X-Forwarded-Proto or http>://<Host>/;
                                    otherwise 200 "Invalid login or password."
             GET  /                 signed in: a page saying so; else 302 to /users/sign_in
             GET  /api/v4/version, /api/v4/user                           (PAT)
             POST /api/v4/user/runners     runner_type, description, tag_list, run_untagged, ...
                                           (PAT) -> 201 {"id", "token": "glrt-...", "token_expires_at": null}
             GET  /api/v4/runners/all, /api/v4/runners, /api/v4/runners/:id  (PAT)
             DELETE /api/v4/runners/:id    (PAT) -> 204
             POST /api/v4/runners/verify   token -> 200 if known, else 403
             DELETE /api/v4/runners        token -> 204 (runner unregisters itself)
             POST /api/v4/jobs/request     token -> 204 (no jobs, ever), 403 for unknown tokens
             GET  /jwt/auth        registry tokens (Basic auth: root's password or a PAT with
                                   read_registry, write_registry or api; see gitlab_registry.py)
  HTTP :5050 the `distribution` registry (Go module build), token auth against /jwt/auth, when
             gitlab.rb sets registry_external_url (as Omnibus runs GitLab's registry)

Root password, as in GitLab: on first boot (no root password in the state yet) `python3
gitlab_standin.py init-root-password` (run by /assets/wrapper as root, before it drops to `git`)
reads `gitlab_rails['initial_root_password']` from /etc/gitlab/gitlab.rb and GITLAB_OMNIBUS_CONFIG
(`from_file('...')` is followed): either `File.read('<path>')[.strip]` or a quoted literal; else
the GITLAB_ROOT_PASSWORD variable. Only a salted PBKDF2-SHA256 hash is stored. Later changes go
through `gitlab-rails runner` (`u.password = ...; u.save!`, see gitlab_rails.py); the initial
password is never applied again.

Personal access tokens are created with `gitlab-rails runner '<ruby>'` (see gitlab-rails), which
prints a new `glpat-...` token. State lives in /var/opt/gitlab/standin/state.json.
"""
import base64
import fcntl
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import sys
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import gitlab_registry

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


# ---- root password (GitLab's user `root`)
PBKDF2_ITERATIONS = 200_000
MIN_PASSWORD_LENGTH = 8  # GitLab's default password_minimum_length
ROOT_EMAIL = "admin@example.com"  # what GitLab's seed gives root


def hash_password(password, salt=None, iterations=PBKDF2_ITERATIONS):
    salt = salt or secrets.token_hex(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return f"pbkdf2_sha256${int(iterations)}${salt}${dk.hex()}"


def check_password(password, stored):
    if not stored or password is None:
        return False
    try:
        algo, iterations, salt, _ = stored.split("$", 3)
    except ValueError:
        return False
    if algo != "pbkdf2_sha256":
        return False
    return hmac.compare_digest(hash_password(password, salt, iterations), stored)


def password_problem(password):
    """GitLab's validation message for an unacceptable password, or None."""
    if not password:
        return "Password can't be blank"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password is too short (minimum is {MIN_PASSWORD_LENGTH} characters)"
    return None


def set_root_password(password, only_if_unset=False):
    """Store the hash of root's password. Returns False when only_if_unset and one is already set."""
    digest = hash_password(password)

    def upd(d):
        root = d.setdefault("root", {})
        if only_if_unset and root.get("password"):
            return False
        root["password"] = digest
        root["password_changed_at"] = now_iso()
        root["password_automatically_set"] = False
        return True
    return STATE.transact(upd)


def root_password_hash():
    return STATE.transact(lambda d: (d.get("root") or {}).get("password"))


def ruby_file_read(path, strip):
    """Ruby's File.read(path), with .strip when asked (Ruby's strip: whitespace and NULs). OSError on failure."""
    with open(path, encoding="utf-8") as f:
        value = f.read()
    return value.strip(" \t\n\v\f\r\0") if strip else value


# `gitlab_rails['initial_root_password'] = File.read('/run/secrets/x').strip` or `= 'literal'`
_INITIAL_PW = re.compile(
    r"""(?:^|;)[ \t]*gitlab_rails\[\s*['"]initial_root_password['"]\s*\]\s*=\s*"""
    r"""(?:File\.read\(\s*(?P<q>['"])(?P<path>[^'"]+)(?P=q)\s*\)(?P<strip>\.strip)?"""
    r"""|(?P<lq>['"])(?P<lit>(?:\\.|(?!(?P=lq)).)*)(?P=lq))""", re.M)
_FROM_FILE = re.compile(r"""from_file\(\s*(['"])([^'"]+)\1\s*\)""")


def omnibus_config_texts():
    """/etc/gitlab/gitlab.rb, then GITLAB_OMNIBUS_CONFIG (later wins, as in Omnibus), with
    `from_file('...')` replaced by the file's content."""
    texts = []

    def add(text, depth=0):
        for m in _FROM_FILE.finditer(text):
            if depth < 3:
                try:
                    with open(m.group(2), encoding="utf-8") as f:
                        add(f.read(), depth + 1)
                except OSError as e:
                    print(f"gitlab-standin: from_file('{m.group(2)}'): {e}", file=sys.stderr)
        texts.append(_FROM_FILE.sub("", text))
    try:
        with open(os.environ.get("GITLAB_STANDIN_GITLAB_RB", "/etc/gitlab/gitlab.rb"), encoding="utf-8") as f:
            add(f.read())
    except OSError:
        pass
    add(os.environ.get("GITLAB_OMNIBUS_CONFIG", ""))
    return texts


def initial_root_password():
    """(password, source) from the Omnibus config or GITLAB_ROOT_PASSWORD; (None, reason) if none."""
    found = None
    for text in omnibus_config_texts():
        for m in _INITIAL_PW.finditer(text):
            found = m
    if found and found.group("path"):
        path = found.group("path")
        try:
            return ruby_file_read(path, bool(found.group("strip"))), f"File.read('{path}')"
        except OSError as e:
            return None, f"cannot read {path}: {e.strerror}"
    if found:
        return re.sub(r"\\(.)", r"\1", found.group("lit")), "gitlab.rb literal"
    if os.environ.get("GITLAB_ROOT_PASSWORD"):
        return os.environ["GITLAB_ROOT_PASSWORD"], "GITLAB_ROOT_PASSWORD"
    return None, "no gitlab_rails['initial_root_password'] and no GITLAB_ROOT_PASSWORD"


def drop_to_git():
    """When root: become `git` (what owns the state) after the root-only files have been read."""
    if os.geteuid() != 0:
        return
    import pwd
    try:
        pw = pwd.getpwnam("git")
    except KeyError:
        return
    os.initgroups("git", pw.pw_gid)
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


def init_root_password():
    """First boot: set root's password from the configured initial password if none is set yet."""
    if root_password_hash_unlocked():
        print("gitlab-standin: root password already set; initial_root_password not applied again")
        return 0
    password, source = initial_root_password()   # read while still root (the secret is 0400 root)
    drop_to_git()
    if password is None:
        print(f"gitlab-standin: WARNING: root has no password ({source}); nobody can sign in "
              "until `gitlab-rails runner` sets one", file=sys.stderr)
        return 0
    problem = password_problem(password)
    if problem:
        print(f"gitlab-standin: WARNING: initial root password rejected: {problem}; root has no "
              "password", file=sys.stderr)
        return 0
    if set_root_password(password, only_if_unset=True):
        print(f"gitlab-standin: root password set from {source} (first boot; stored as a PBKDF2 hash)")
    return 0


def root_password_hash_unlocked():
    """Peek at the state without creating files (callable as root before dropping privileges)."""
    try:
        with open(STATE_FILE, encoding="utf-8") as f:
            return (json.load(f).get("root") or {}).get("password")
    except (OSError, ValueError):
        return None


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
<html lang="en"><head><meta charset="utf-8"><title>Sign in · GitLab (stand-in)</title>
<meta name="csrf-param" content="authenticity_token">
<meta name="csrf-token" content="{token}"></head>
<body>
<h1>GitLab stand-in</h1>
<p>This is <strong>dap-offline/gitlab-standin</strong>, a small stand-in for GitLab used where the
real GitLab image cannot be built. It serves the health, sign-in, runner and registry endpoints the
platform uses; there is no web UI, no repositories and no CI jobs.</p>
{flash}<form class="new_user" id="new_user" action="/users/sign_in" accept-charset="UTF-8" method="post" data-testid="sign-in-form">
<input type="hidden" name="authenticity_token" value="{token}" autocomplete="off">
<label for="user_login">Username or primary email</label> <input id="user_login" name="user[login]" value="{login}" autocomplete="username">
<label for="user_password">Password</label> <input id="user_password" name="user[password]" type="password" autocomplete="current-password">
<input name="user[remember_me]" type="hidden" value="0">
<button type="submit" name="button" data-testid="sign-in-button">Sign in</button>
</form>
</body></html>
"""

FLASH_ALERT = '<div class="flash-alert" data-testid="alert-danger">{}</div>\n'

SIGNED_IN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>GitLab (stand-in)</title></head>
<body><h1>GitLab stand-in</h1><p>Signed in as <strong>{user}</strong>. This is a stand-in for GitLab:
there is no web UI, no repositories and no CI jobs.</p></body></html>
"""

SESSION_COOKIE = "_gitlab_session"


def session_secret():
    """The key that signs session cookies and CSRF tokens (GitLab's secret_key_base); in the state."""
    def get(d):
        if not d.get("session_secret"):
            d["session_secret"] = secrets.token_hex(32)
        return d["session_secret"]
    return STATE.transact(get)


def _mac(*parts):
    return base64.urlsafe_b64encode(hmac.new(session_secret().encode(), "\0".join(parts).encode(),
                                             hashlib.sha256).digest()).rstrip(b"=").decode()


def csrf_token(sid):
    """The authenticity_token bound to session `sid` (stateless: an HMAC of it)."""
    return _mac("csrf", sid)


def session_cookie(user=None):
    """A new session id; signed-in sessions carry the user and are bound to its password hash
    (a password change ends them)."""
    sid = secrets.token_hex(16)
    if user is None:
        return sid
    return f"{sid}.{user}.{_mac('user', sid, user, root_password_hash() or '')}"


def session_user(cookie):
    parts = (cookie or "").split(".")
    if len(parts) == 3 and parts[1] == "root" and \
            hmac.compare_digest(parts[2], _mac("user", parts[0], parts[1], root_password_hash() or "")):
        return parts[1]
    return None


def session_id(cookie):
    sid = (cookie or "").split(".")[0]
    return sid if re.fullmatch(r"[0-9a-f]{32}", sid) else None


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

    def cookie(self, name):
        from http.cookies import CookieError, SimpleCookie
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
        except CookieError:
            return None
        return jar[name].value if name in jar else None

    def set_session_headers(self, value):
        proto = self.scheme()
        return {"Set-Cookie": f"{SESSION_COOKIE}={value}; path=/; HttpOnly; SameSite=Lax"
                              + ("; secure" if proto == "https" else ""),
                "Cache-Control": "no-store"}

    def scheme(self):
        proto = (self.headers.get("X-Forwarded-Proto") or "").split(",")[0].strip().lower()
        return proto if proto in ("http", "https") else "http"

    def sign_in_page(self, code, sid, new_session, flash="", login=""):
        body = SIGN_IN_PAGE.format(token=csrf_token(sid), login=html.escape(login, quote=True),
                                   flash=FLASH_ALERT.format(html.escape(flash)) if flash else "")
        return self.send(code, body, "text/html; charset=utf-8",
                         self.set_session_headers(sid) if new_session else {"Cache-Control": "no-store"})

    def get_sign_in(self):
        sid = session_id(self.cookie(SESSION_COOKIE))
        if sid and session_user(self.cookie(SESSION_COOKIE)):
            return self.send(302, "", "text/html", {"Location": "/"})
        return self.sign_in_page(200, sid or session_cookie(), sid is None)

    def post_sign_in(self):
        """Devise's sign-in: CSRF token bound to the session cookie, then login + password."""
        p = self.params()
        cookie = self.cookie(SESSION_COOKIE)
        sid = session_id(cookie)
        token = p.get("authenticity_token")
        if not sid or not isinstance(token, str) or not hmac.compare_digest(token, csrf_token(sid)):
            return self.send(422, "<!DOCTYPE html><html><head><title>The change you requested was "
                             "rejected (422)</title></head><body><h2>The change you requested was "
                             "rejected.</h2><p>Invalid authenticity token (GitLab stand-in).</p>"
                             "</body></html>", "text/html; charset=utf-8")
        login = p.get("user[login]") if isinstance(p.get("user[login]"), str) else ""
        password = p.get("user[password]") if isinstance(p.get("user[password]"), str) else ""
        if login.strip().lower() in ("root", ROOT_EMAIL) and check_password(password, root_password_hash()):
            host = (self.headers.get("Host") or "localhost").strip()
            headers = self.set_session_headers(session_cookie("root"))
            headers["Location"] = f"{self.scheme()}://{host}/"
            return self.send(302, "", "text/html; charset=utf-8", headers)
        return self.sign_in_page(200, sid, False, "Invalid login or password.", login)

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
        path = urlparse(self.path).path.rstrip("/") or "/"
        if path == "/-/health":
            return self.send(200, "GitLab OK", "text/plain; charset=utf-8")
        if path == "/-/readiness":
            return self.send(200, {"status": "ok", "master_check": [{"status": "ok"}]})
        if path == "/-/liveness":
            return self.send(200, {"status": "ok"})
        if path == "/":
            user = session_user(self.cookie(SESSION_COOKIE))
            if user:
                return self.send(200, SIGNED_IN_PAGE.format(user=user), "text/html; charset=utf-8")
            return self.send(302, "", "text/html", {"Location": "/users/sign_in"})
        if path in ("/users/sign_in", "/help"):
            return self.get_sign_in()
        if path == "/jwt/auth":
            return self.jwt_auth()
        if path.startswith("/api/v4/"):
            return self.api("GET", path[len("/api/v4"):])
        return self.send(404, {"message": "404 Not Found"})

    def do_POST(self):
        path = urlparse(self.path).path.rstrip("/")
        if path == "/users/sign_in":
            return self.post_sign_in()
        if path.startswith("/api/v4/"):
            return self.api("POST", path[len("/api/v4"):])
        return self.send(404, {"message": "404 Not Found"})

    def do_DELETE(self):
        path = urlparse(self.path).path.rstrip("/")
        if path.startswith("/api/v4/"):
            return self.api("DELETE", path[len("/api/v4"):])
        return self.send(404, {"message": "404 Not Found"})

    def do_PUT(self):
        path = urlparse(self.path).path
        if path.startswith("/api/v4/"):
            return self.api("PUT", path[len("/api/v4"):])
        return self.send(405, {"message": "405 Method Not Allowed"})

    # ---- container registry tokens (GitLab's JwtController)
    def registry_credentials(self):
        """(subject, token scopes) for the Basic auth header; (None, None) when there is none;
        (None, []) when it is wrong. Root's password counts as every scope (an admin)."""
        auth = self.headers.get("Authorization") or ""
        if not auth.lower().startswith("basic "):
            return None, None
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except ValueError:
            return None, []
        pat = STATE.transact(lambda d: d["pats"].get(password))
        if pat and not pat.get("revoked"):
            return pat.get("user", "root"), list(pat.get("scopes") or [])
        if user.strip().lower() in ("root", ROOT_EMAIL) and check_password(password, root_password_hash()):
            return "root", ["api"]
        return None, []

    def jwt_auth(self):
        q = parse_qs(urlparse(self.path).query)
        if (q.get("service") or [""])[-1] != gitlab_registry.SERVICE:
            return self.send(400, {"errors": [{"code": "UNAVAILABLE", "message": "unknown service"}]})
        if not os.path.exists(gitlab_registry.CERT_FILE):
            return self.send(404, {"message": "404 Container Registry Not Enabled"})
        subject, scopes = self.registry_credentials()
        if subject is None and scopes is not None:
            return self.send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "HTTP Basic: Access denied. "
                                               "If a password was provided for Git authentication, the password "
                                               "was incorrect or you're required to use a token instead of a password."}]},
                             headers={"WWW-Authenticate": 'Basic realm="GitLab"'})
        access = gitlab_registry.grant(gitlab_registry.parse_scopes(q.get("scope") or []), scopes or [])
        token = gitlab_registry.issue_token(subject or "", access)
        return self.send(200, {"token": token, "access_token": token, "expires_in": gitlab_registry.TOKEN_TTL,
                               "issued_at": now_iso()})

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
        if path == "/admin/ci/variables" or path.startswith("/admin/ci/variables/"):
            return instance_variables_api(self, method, path, p)
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


MASKABLE = re.compile(r"^[A-Za-z0-9+/=@:.~_-]{8,}$")  # GitLab's rule for masked values (8+ chars, no spaces)
VARIABLE_FIELDS = ("key", "value", "variable_type", "protected", "masked", "raw", "description")


def variable_from(p, key):
    """A CI/CD variable from request parameters, or an error message (GitLab's wording)."""
    if not re.fullmatch(r"[A-Za-z0-9_]{1,255}", key or ""):
        return None, {"key": ["can contain only letters, digits and '_'."]}
    value = p.get("value")
    if value is None:
        return None, {"value": ["is missing"]}
    var = {
        "key": key, "value": str(value), "variable_type": p.get("variable_type") or "env_var",
        "protected": as_bool(p.get("protected"), False), "masked": as_bool(p.get("masked"), False),
        "raw": as_bool(p.get("raw"), False), "description": p.get("description"),
    }
    if var["masked"] and not MASKABLE.match(var["value"]):
        return None, {"value": ["is invalid"]}
    return var, None


def instance_variables_api(handler, method, path, p):
    """/api/v4/admin/ci/variables: instance-level CI/CD variables, as GitLab's admin API."""
    if path == "/admin/ci/variables":
        if method == "GET":
            out = STATE.transact(lambda d: [d.setdefault("ci_variables", {})[k] for k in sorted(d.get("ci_variables", {}))])
            return handler.send(200, out)
        if method == "POST":
            var, err = variable_from(p, p.get("key"))
            if err:
                return handler.send(400, {"message": err})

            def create(d):
                vs = d.setdefault("ci_variables", {})
                if var["key"] in vs:
                    return False
                vs[var["key"]] = var
                return True
            if not STATE.transact(create):
                return handler.send(400, {"message": {"key": [f"({var['key']}) has already been taken"]}})
            return handler.send(201, var)
        return handler.send(405, {"message": "405 Method Not Allowed"})
    key = path.rsplit("/", 1)[1]
    current = STATE.transact(lambda d: d.get("ci_variables", {}).get(key))
    if current is None:
        return handler.send(404, {"message": "404 Variable Not Found"})
    if method == "GET":
        return handler.send(200, current)
    if method == "PUT":
        var, err = variable_from({**current, **p}, key)
        if err:
            return handler.send(400, {"message": err})
        STATE.transact(lambda d: d.setdefault("ci_variables", {}).__setitem__(key, var))
        return handler.send(200, var)
    if method == "DELETE":
        STATE.transact(lambda d: d.get("ci_variables", {}).pop(key, None))
        return handler.send(204)
    return handler.send(405, {"message": "405 Method Not Allowed"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, name):
        self.name = name
        super().__init__(addr, Handler)


def serve():
    http_port = int(os.environ.get("GITLAB_STANDIN_HTTP_PORT", "80"))
    server = Server(("0.0.0.0", http_port), "http")
    print(f"gitlab-standin {VERSION}: HTTP on :{http_port} (state: {STATE_FILE})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    if sys.argv[1:] == ["init-root-password"]:
        sys.exit(init_root_password())
    if sys.argv[1:] == ["init-registry"]:
        import pwd
        git = pwd.getpwnam("git")
        sys.exit(0 if gitlab_registry.init_registry(omnibus_config_texts(), git.pw_uid, git.pw_gid) else 3)
    serve()
