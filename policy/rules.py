"""The platform's rules as plain functions over resource properties (camelCase engine names), so each
can be unit-tested directly; __main__.py wraps them in a CrossGuard PolicyPack."""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping

CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/remoteImage:RemoteImage"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
COMMAND = "command:local:Command"
DOCKER_SOCKET = "/var/run/docker.sock"
SOCKET_ROLES = {"portainer", "gitlab-runner", "watchdog"}
PUBLISHING_ROLES = {"proxy"}
INTERNAL_ONLY_ROLES = {"postgres-service", "postgres-data", "minio"}
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|(^|_)KEY($|_))")
TAG_RE = re.compile(r"^[^@]+:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$|@sha256:[a-f0-9]{64}$")

Report = Callable[[str], None]


def labels(props: Mapping[str, Any]) -> dict[str, str]:
    return {lab["label"]: lab["value"] for lab in props.get("labels") or []}


def role(props: Mapping[str, Any]) -> str:
    return labels(props).get("dap.role", "")


def no_privileged(props: Mapping[str, Any], report: Report, allow_runner_privileged: bool = False) -> None:
    if props.get("privileged"):
        if role(props) == "gitlab-runner" and allow_runner_privileged:
            return
        report(f"container '{props.get('name')}' is privileged; only runners may be, and only when runner.privileged is set")


def docker_socket_only_for_portainer_and_runners(props: Mapping[str, Any], report: Report) -> None:
    mounts = [v.get("hostPath") for v in props.get("volumes") or []] + [m.get("source") for m in props.get("mounts") or []]
    sockets = [m for m in mounts if m and (m == DOCKER_SOCKET or (m.endswith(".sock") and "docker" in m.rsplit("/", 1)[-1]))]
    if sockets and role(props) not in SOCKET_ROLES:
        report(f"container '{props.get('name')}' (role {role(props) or 'none'}) mounts the Docker socket; only {sorted(SOCKET_ROLES)} may")


def ports_only_on_proxies(props: Mapping[str, Any], report: Report) -> None:
    if props.get("ports") and role(props) not in PUBLISHING_ROLES:
        report(f"container '{props.get('name')}' publishes host ports; only proxy containers may")


def long_running_guarantees(props: Mapping[str, Any], report: Report) -> None:
    name = props.get("name")
    if props.get("restart") not in ("unless-stopped", "always", "on-failure"):
        report(f"container '{name}' has no restart policy (restart={props.get('restart')!r})")
    if not (props.get("healthcheck") or {}).get("tests"):
        report(f"container '{name}' has no healthcheck")
    opts = props.get("logOpts") or {}
    if props.get("logDriver") not in ("json-file", "local") or "max-size" not in opts:
        report(f"container '{name}' has no log rotation (logDriver json-file/local with logOpts max-size)")
    if not str(props.get("image", "")).startswith("sha256:"):
        report(f"container '{name}' does not run an image id from a pinned image resource (image={props.get('image')!r})")


def pinned_image(props: Mapping[str, Any], report: Report) -> None:
    ref = str(props.get("name", ""))
    m = TAG_RE.search(ref)
    if not m or (m.group("tag") == "latest"):
        report(f"image '{ref}' is not pinned: use a version tag or a digest, never 'latest' or no tag")


def secret_env_only_as_files(props: Mapping[str, Any], report: Report) -> None:
    for entry in props.get("envs") or []:
        key = entry.split("=", 1)[0]
        if SECRET_NAME.search(key) and not key.endswith("_FILE"):
            report(f"container '{props.get('name')}' passes {key} in its environment; pass secrets as files (*_FILE)")


def hardened(props: Mapping[str, Any], report: Report) -> None:
    if "no-new-privileges:true" not in (props.get("securityOpts") or []):
        report(f"container '{props.get('name')}' lacks no-new-privileges")
    if not props.get("memory"):
        report(f"container '{props.get('name')}' has no memory limit")


def state_volume_retained(props: Mapping[str, Any], report: Report) -> None:
    lab = labels(props)
    if lab.get("dap.state") == "true" and lab.get("dap.retain-on-delete") != "true":
        report(f"state volume '{props.get('name')}' is not retained on delete")


def internal_networks_for_data(resources: Iterable[tuple[str, Mapping[str, Any]]], report: Report) -> None:
    """Stack rule: databases and object storage join internal networks only."""
    resources = list(resources)
    internal = {p.get("name"): bool(p.get("internal")) for t, p in resources if t == NETWORK}
    for t, p in resources:
        if t == CONTAINER and role(p) in INTERNAL_ONLY_ROLES:
            for net in p.get("networksAdvanced") or []:
                if not internal.get(net.get("name"), False):
                    report(f"container '{p.get('name')}' ({role(p)}) joins non-internal network '{net.get('name')}'")
            if not p.get("networksAdvanced"):
                report(f"container '{p.get('name')}' ({role(p)}) is on the default bridge network")


# GitLab's required upgrade stops (docs.gitlab.com, "Plan your upgrade path"): versions an instance must run, and
# finish its background migrations on, before any later version. From 17.5 they are scheduled at x.2, x.5, x.8 and
# x.11; the ones before that are listed (unconditional stops only).
GITLAB_LISTED_STOPS = [(15, 0), (15, 1), (15, 4), (15, 11), (16, 3), (16, 7), (16, 11), (17, 3), (17, 5), (17, 8), (17, 11)]
GITLAB_SCHEDULED_MINORS = (2, 5, 8, 11)


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def gitlab_stops_between(before: str, after: str) -> list[str]:
    """The required stops strictly between two GitLab versions (by major.minor), in order."""
    lo, hi = _version(before)[:2], _version(after)[:2]
    stops = list(GITLAB_LISTED_STOPS) + [(major, minor) for major in range(18, hi[0] + 1) for minor in GITLAB_SCHEDULED_MINORS]
    return [f"{m}.{n}" for m, n in sorted(set(stops)) if lo < (m, n) < hi]


def gitlab_upgrade_stops(props: Mapping[str, Any], report: Report) -> None:
    """The program's `gitlab-upgrade` step (DAP_GITLAB_FROM -> DAP_GITLAB_TO) must not skip a required stop."""
    env = props.get("environment") or {}
    before, after = env.get("DAP_GITLAB_FROM"), env.get("DAP_GITLAB_TO")
    if not before or not after:
        return
    if _version(after) < _version(before):
        report(f"GitLab {before} -> {after} is a downgrade, which GitLab does not support: restore a backup taken on {after} instead")
        return
    skipped = gitlab_stops_between(before, after)
    if skipped:
        report(
            f"GitLab {before} -> {after} skips the required upgrade stop {skipped[0]}: set images.gitlab to the latest "
            f"{skipped[0]} patch release (gitlab/gitlab-ce:{skipped[0]}.<patch>-ce.0), run pulumi up, let its background "
            f"migrations finish, then go on. Stops on this way: {', '.join(skipped)}"
        )
