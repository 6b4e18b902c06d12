#!/usr/bin/env python3
"""dap-watchdog: starts the platform's containers again when they stop and Docker will not.

Docker's restart policy does not restart a container that was killed with `docker kill` (the engine counts that
as a manual stop), so a killed service would stay down until someone acts. This agent runs in one small container
per Docker host, talks to that host's engine over its socket (no network at all), and every few seconds starts
every exited container of its stack, with a backoff for containers that keep failing.

Which containers: names starting with DAP_PREFIX (e.g. "dap-ci-") and labelled dap.role, except watchdogs; when
two stacks' prefixes both match a name ("dap-ci-" and "dap-ci-restore-"), the longest prefix among the running
watchdogs' (their dap.watch-prefix labels) owns it. To stop a service on purpose, stop this watchdog first
(`docker stop <prefix>watchdog`): a manually stopped watchdog stays stopped.

Python standard library only; also imported by the unit tests (plan()).
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sys
import time
import urllib.parse

SOCKET = os.environ.get("DAP_DOCKER_SOCKET", "/var/run/docker.sock")
PREFIX = os.environ.get("DAP_PREFIX", "")
INTERVAL = float(os.environ.get("DAP_WATCH_INTERVAL", "3"))
HEARTBEAT = os.environ.get("DAP_HEARTBEAT", "/tmp/dap-watchdog.heartbeat")
ROLE_LABEL = "dap.role"
WATCHDOG_ROLE = "watchdog"
PREFIX_LABEL = "dap.watch-prefix"  # on each watchdog: the name prefix it guards
BACKOFF_MAX = 300.0  # seconds between starts of a container that keeps exiting
STABLE_AFTER = 60.0  # a container running this long has its backoff reset


class Engine(http.client.HTTPConnection):
    """HTTP over the engine's unix socket."""

    def __init__(self, path: str, timeout: float = 10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(method: str, path: str, timeout: float = 30):
    conn = Engine(SOCKET, timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, (json.loads(body) if body and body[:1] in b"[{" else body.decode(errors="replace"))
    finally:
        conn.close()


def name_of(c: dict) -> str:
    return (c.get("Names") or ["?"])[0].lstrip("/")


def owner(name: str, prefixes: list[str]) -> str | None:
    """The longest watchdog prefix the name starts with."""
    matching = [p for p in prefixes if name.startswith(p)]
    return max(matching, key=len) if matching else None


def plan(containers: list[dict], prefix: str, history: dict[str, tuple[float, int]], now: float) -> list[dict]:
    """The exited containers this watchdog must start now. ``containers``: the engine's /containers/json?all=1
    entries; ``history``: name -> (time of our last start, consecutive starts) for the backoff."""
    prefixes = [prefix] + [(c.get("Labels") or {}).get(PREFIX_LABEL, "") for c in containers
                           if (c.get("Labels") or {}).get(ROLE_LABEL) == WATCHDOG_ROLE and c.get("State") == "running"]
    due = []
    for c in containers:
        name, labels = name_of(c), c.get("Labels") or {}
        if ROLE_LABEL not in labels or labels[ROLE_LABEL] == WATCHDOG_ROLE or owner(name, prefixes) != prefix:
            continue
        if c.get("State") not in ("exited", "dead"):
            continue
        last, count = history.get(name, (0.0, 0))
        if count and now - last < min(BACKOFF_MAX, INTERVAL * 2 ** (count - 1)):
            continue
        due.append(c)
    return due


def settle(containers: list[dict], history: dict[str, tuple[float, int]], now: float) -> None:
    """Forget the backoff of containers that have stayed up."""
    for c in containers:
        name = name_of(c)
        if name in history and c.get("State") == "running" and now - history[name][0] > STABLE_AFTER:
            del history[name]


def sweep(history: dict[str, tuple[float, int]]) -> None:
    filters = urllib.parse.quote(json.dumps({"label": [ROLE_LABEL]}))
    status, containers = call("GET", f"/containers/json?all=1&filters={filters}")
    if status != 200:
        raise RuntimeError(f"list containers: HTTP {status}: {containers}")
    now = time.time()
    settle(containers, history, now)
    for c in plan(containers, PREFIX, history, now):
        name = name_of(c)
        status, body = call("POST", f"/containers/{c['Id']}/start", timeout=120)
        count = history.get(name, (0.0, 0))[1] + 1
        history[name] = (now, count)
        print(f"dap-watchdog: {name} was {c.get('State')} ({c.get('Status')}): start -> HTTP {status}"
              + (f" {body}" if status >= 300 else "") + (f" (start {count} in a row)" if count > 1 else ""), flush=True)


def healthcheck() -> int:
    """Healthy: the engine answers and the loop beat within three intervals (plus slack)."""
    try:
        age = time.time() - os.stat(HEARTBEAT).st_mtime
        status, _ = call("GET", "/_ping", timeout=5)
    except OSError as e:
        print(f"unhealthy: {e}")
        return 1
    if status != 200 or age > 3 * INTERVAL + 10:
        print(f"unhealthy: engine ping HTTP {status}, last loop {age:.0f} s ago")
        return 1
    return 0


def main() -> int:
    if sys.argv[1:] == ["--healthcheck"]:
        return healthcheck()
    if not PREFIX:
        print("dap-watchdog: DAP_PREFIX is not set", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1: stop at once on `docker stop`
    print(f"dap-watchdog: guarding {PREFIX}* on {SOCKET} every {INTERVAL:g} s", flush=True)
    history: dict[str, tuple[float, int]] = {}
    while True:
        try:
            sweep(history)
            with open(HEARTBEAT, "w") as f:
                f.write(str(time.time()))
        except Exception as e:  # the engine restarting, a timeout: try again next round
            print(f"dap-watchdog: {type(e).__name__}: {e}", flush=True)
        time.sleep(INTERVAL)


if __name__ == "__main__":
    sys.exit(main())
