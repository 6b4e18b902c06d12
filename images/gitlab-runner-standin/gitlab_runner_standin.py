#!/usr/bin/env python3
"""gitlab-runner STAND-IN (not GitLab Runner). Python standard library only.

The real gitlab-runner does not build here: several of its Go dependencies (gitlab.com/gitlab-org/
step-runner, moa, labkit/v2, fleeting/*, gitlab.com/ajwalker/phrasestream) are not served by the
Go module proxy. This program is installed as /usr/bin/gitlab-runner and honours the commands the
platform uses, against the GitLab runner API:

  gitlab-runner run [--config FILE] [--working-directory DIR] [--user USER] [--service NAME]
      loads config.toml (creating `concurrent = 1` if it is missing, like the real runner) and
      polls POST /api/v4/jobs/request for every [[runners]] entry every check_interval seconds.
      It never runs jobs (GitLab, or its stand-in, has none to give). Reloads the config on change.
  gitlab-runner register --non-interactive --url URL --token glrt-... [--name N] [--executor E]
      [--docker-image IMG] [--config FILE] [--template-config FILE] [--tag-list a,b] ...
      verifies the token (POST /api/v4/runners/verify) and appends a [[runners]] entry.
  gitlab-runner verify [--delete] [--name N] [--config FILE]
  gitlab-runner unregister (--name N | --token T | --all-runners) [--config FILE]
  gitlab-runner list [--config FILE]
  gitlab-runner --version | -v

TLS: system trust plus /etc/gitlab-runner/certs/ca.crt or <host>.crt, or tls-ca-file per runner.
"""
import json
import os
import signal
import ssl
import sys
import time
import tomllib
import urllib.error
import urllib.request
from urllib.parse import urlparse

VERSION = os.environ.get("GITLAB_RUNNER_STANDIN_VERSION", "1.0.0")
REPORTED_VERSION = os.environ.get("GITLAB_RUNNER_STANDIN_REPORTED_VERSION", "18.4.0-standin")
DEFAULT_CONFIG = "/etc/gitlab-runner/config.toml"
HEARTBEAT = "/run/gitlab-runner-standin/heartbeat"
CERTS_DIR = "/etc/gitlab-runner/certs"


def log(msg, **fields):
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {msg}" + (f"  {extra}" if extra else ""),
          file=sys.stderr, flush=True)


def parse_flags(argv, bool_flags=()):
    """--flag value | --flag=value | --bool-flag  ->  dict (repeated flags become lists)."""
    out, rest, i = {}, [], 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-"):
            key = a.lstrip("-")
            if "=" in key:
                key, val = key.split("=", 1)
            elif key in bool_flags or i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                val = True
            else:
                val = argv[i + 1]
                i += 1
            key = key.replace("_", "-")
            if key in out:
                out[key] = (out[key] if isinstance(out[key], list) else [out[key]]) + [val]
            else:
                out[key] = val
        else:
            rest.append(a)
        i += 1
    return out, rest


def config_path(flags):
    return flags.get("config") or flags.get("c") or os.environ.get("CONFIG_FILE") or DEFAULT_CONFIG


def load_config(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def dump_table(name, table, prefix):
    lines = [f"[{prefix}{name}]"] if name else []
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)
               and not (isinstance(v, list) and v and isinstance(v[0], dict))}
    for k, v in scalars.items():
        lines.append(f"  {k} = {toml_value(v)}" if name else f"{k} = {toml_value(v)}")
    for k, v in table.items():
        if isinstance(v, dict):
            lines.append("")
            lines.extend(dump_table(k, v, f"{prefix}{name}." if name else prefix))
    return lines


def save_config(path, cfg):
    """Write config.toml: global keys, [session_server], then [[runners]] with sub-tables."""
    out = []
    for k, v in cfg.items():
        if not isinstance(v, (dict, list)) or (isinstance(v, list) and (not v or not isinstance(v[0], dict))):
            out.append(f"{k} = {toml_value(v)}")
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.append("")
            out.extend(dump_table(k, v, ""))
    for r in cfg.get("runners", []):
        out.append("")
        out.append("[[runners]]")
        for k, v in r.items():
            if not isinstance(v, dict):
                out.append(f"  {k} = {toml_value(v)}")
        for k, v in r.items():
            if isinstance(v, dict):
                out.extend(["  " + line for line in dump_table(k, v, "runners.")])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ssl_context(url, runner=None):
    ctx = ssl.create_default_context()
    host = urlparse(url).hostname or ""
    for ca in filter(None, [(runner or {}).get("tls-ca-file"), os.path.join(CERTS_DIR, host + ".crt"),
                            os.path.join(CERTS_DIR, "ca.crt")]):
        if os.path.isfile(ca):
            ctx.load_verify_locations(ca)
    return ctx


def api(url, method, path, body=None, runner=None, timeout=30):
    full = url.rstrip("/") + "/api/v4" + path
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(full, data=data, method=method, headers={
        "Content-Type": "application/json", "User-Agent": f"gitlab-runner {REPORTED_VERSION} (standin)"})
    ctx = ssl_context(url, runner) if full.startswith("https") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw.strip() else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode("utf-8", "replace")


def runner_info():
    return {"name": "gitlab-runner", "version": REPORTED_VERSION, "revision": "standin",
            "platform": "linux", "architecture": "amd64", "executor": "docker",
            "features": {"variables": True, "image": True, "services": True}}


def cmd_version(_argv):
    print(f"Version:      {REPORTED_VERSION}\nGit revision: standin\nGit branch:   standin\n"
          f"GO version:   none (python stand-in {VERSION})\nBuilt:        -\nOS/Arch:      linux/amd64")
    return 0


def cmd_register(argv):
    f, _ = parse_flags(argv, bool_flags=("non-interactive", "n", "leave-runner", "run-untagged",
                                         "locked", "paused", "docker-privileged"))
    env = os.environ
    url = f.get("url") or env.get("CI_SERVER_URL")
    token = f.get("token") or f.get("t") or env.get("CI_SERVER_TOKEN") or env.get("RUNNER_TOKEN")
    if not url or not token:
        log("ERROR: --url and --token are required (registration tokens are not supported)")
        return 1
    path = config_path(f)
    code, body = api(url, "POST", "/runners/verify", {"token": token})
    if code != 200:
        log("ERROR: Verifying runner... is not valid", status=code, body=json.dumps(body))
        return 1
    cfg = {}
    if f.get("template-config") and os.path.isfile(f["template-config"]):
        tmpl = load_config(f["template-config"])
        cfg_runner = (tmpl.get("runners") or [{}])[0]
    else:
        cfg_runner = {}
    if os.path.isfile(path):
        cfg = load_config(path)
    cfg.setdefault("concurrent", 1)
    cfg.setdefault("check_interval", 0)
    runner = dict(cfg_runner)
    runner.update({
        "name": f.get("name") or f.get("description") or env.get("RUNNER_NAME") or os.uname().nodename,
        "url": url, "id": (body or {}).get("id", 0), "token": token,
        "token_obtained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "token_expires_at": "0001-01-01T00:00:00Z",
        "executor": f.get("executor") or env.get("RUNNER_EXECUTOR") or runner.get("executor") or "docker",
    })
    if f.get("docker-image") or env.get("DOCKER_IMAGE"):
        runner.setdefault("docker", {})["image"] = f.get("docker-image") or env.get("DOCKER_IMAGE")
    if f.get("tls-ca-file"):
        runner["tls-ca-file"] = f["tls-ca-file"]
    cfg.setdefault("runners", []).append(runner)
    save_config(path, cfg)
    log("Runner registered successfully. (stand-in: it polls for jobs but never runs any)",
        name=runner["name"], id=runner["id"], config=path)
    return 0


def cmd_verify(argv):
    f, _ = parse_flags(argv, bool_flags=("delete",))
    path = config_path(f)
    if not os.path.isfile(path):
        log("ERROR: no config", config=path)
        return 1
    cfg = load_config(path)
    ok, keep = True, []
    for r in cfg.get("runners", []):
        if f.get("name") and r.get("name") != f["name"]:
            keep.append(r)
            continue
        code, _ = api(r["url"], "POST", "/runners/verify", {"token": r["token"]}, r)
        valid = code == 200
        log(f"Verifying runner... is {'valid' if valid else 'removed' if f.get('delete') else 'not valid'}",
            runner=r.get("name"), status=code)
        ok = ok and valid
        if valid or not f.get("delete"):
            keep.append(r)
    if f.get("delete"):
        cfg["runners"] = keep
        save_config(path, cfg)
        return 0
    return 0 if ok else 1


def cmd_unregister(argv):
    f, _ = parse_flags(argv, bool_flags=("all-runners",))
    path = config_path(f)
    cfg = load_config(path)
    keep = []
    for r in cfg.get("runners", []):
        if f.get("all-runners") or r.get("name") == f.get("name") or r.get("token") == f.get("token"):
            code, _ = api(r["url"], "DELETE", "/runners", {"token": r["token"]}, r)
            log("Unregistering runner... succeeded" if code == 204 else "Unregistering runner... failed",
                runner=r.get("name"), status=code)
        else:
            keep.append(r)
    cfg["runners"] = keep
    save_config(path, cfg)
    return 0


def cmd_list(argv):
    f, _ = parse_flags(argv)
    path = config_path(f)
    log("Listing configured runners", ConfigFile=path)
    if os.path.isfile(path):
        for r in load_config(path).get("runners", []):
            log(r.get("name", ""), Executor=r.get("executor"), Token=r.get("token", "")[:12] + "...",
                URL=r.get("url"))
    return 0


STOP = False


def _stop(signum, _frame):
    global STOP
    STOP = True
    log("Received signal, shutting down", signal=signum)


def cmd_run(argv):
    f, _ = parse_flags(argv)
    path = config_path(f)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(s, _stop)
    os.makedirs(os.path.dirname(HEARTBEAT), exist_ok=True)
    log(f"Starting multi-runner from {path}...", builds=0, max_builds=0,
        standin=f"python gitlab-runner stand-in {VERSION}")
    if not os.path.isfile(path):
        save_config(path, {"concurrent": 1, "check_interval": 0,
                           "session_server": {"session_timeout": 1800}})
        log("Created missing configuration file", config=path)
    mtime, cfg = None, {}
    while not STOP:
        try:
            m = os.stat(path).st_mtime
            if m != mtime:
                cfg, mtime = load_config(path), m
                log("Configuration loaded", builds=0, runners=len(cfg.get("runners", [])))
        except (OSError, tomllib.TOMLDecodeError) as e:
            log("ERROR: Failed to load config", error=str(e))
        for r in cfg.get("runners", []):
            try:
                code, body = api(r["url"], "POST", "/jobs/request",
                                 {"token": r["token"], "info": runner_info()}, r, timeout=15)
                if code == 204:
                    log("Checking for jobs... nothing", runner=r.get("name"), status="204 No Content")
                elif code == 201:
                    log("Checking for jobs... received a job: the stand-in cannot run jobs",
                        runner=r.get("name"), job=(body or {}).get("id"))
                else:
                    log("Checking for jobs... forbidden" if code == 403 else "Checking for jobs... failed",
                        runner=r.get("name"), status=code)
            except (OSError, ValueError) as e:
                log("Checking for jobs... error", runner=r.get("name"), error=str(e))
        with open(HEARTBEAT, "w") as hb:
            hb.write(str(int(time.time())))
        interval = cfg.get("check_interval") or 3
        end = time.time() + max(1, int(interval))
        while not STOP and time.time() < end:
            time.sleep(0.2)
    return 0


def main(argv):
    if not argv or argv[0] in ("help", "-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    # global flags before the command (e.g. --debug run)
    while cmd.startswith("--") and cmd not in ("--version", "--help") and rest:
        cmd, rest = rest[0], rest[1:]
    table = {"run": cmd_run, "register": cmd_register, "verify": cmd_verify,
             "unregister": cmd_unregister, "list": cmd_list, "--version": cmd_version,
             "-v": cmd_version, "version": cmd_version}
    if cmd not in table:
        log(f"gitlab-runner stand-in: command {cmd!r} is not supported")
        return 1
    return table[cmd](rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
