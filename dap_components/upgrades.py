"""Upgrades that must not happen by accident: what this stack last deployed, read back from its own outputs.

The program exports `versions` (the PostgreSQL major version its databases were created with, the GitLab version it
runs). On the next `pulumi up`/`preview` it reads them back from the stack's last deployment (the engine's
`pulumi:pulumi:readStackOutputs`, synchronously, before any resource is declared):

- a PostgreSQL major-version change is refused by the program itself, before anything changes: a server cannot
  open another major version's data directory; the way is a backup and a restore into a stack created with the
  new version;
- a GitLab version change is declared as a `gitlab-upgrade` step carrying both versions, which the policy pack
  checks against GitLab's required upgrade stops (policy/rules.py) before GitLab is touched.
"""

from __future__ import annotations

import re
from typing import Any, Optional

import pulumi

from .config import PlatformConfig

READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"


def image_tag(ref: str) -> Optional[str]:
    if "@" in ref:
        return None
    name = ref.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else None


def postgres_major(ref: str) -> Optional[int]:
    """postgres:17.6-bookworm -> 17, dap-offline/postgres:15.20 -> 15; None for a digest or an unversioned tag."""
    m = re.match(r"^(\d+)(?:[.-]|$)", image_tag(ref) or "")
    return int(m.group(1)) if m else None


def gitlab_version(ref: str) -> Optional[str]:
    """gitlab/gitlab-ce:18.5.1-ce.0 -> 18.5.1; None for a stand-in, a digest or another tag scheme."""
    m = re.match(r"^(\d+\.\d+\.\d+)-(?:ce|ee)\.\d+$", image_tag(ref) or "")
    return m.group(1) if m else None


def previous_versions() -> dict[str, Any]:
    """The `versions` output of this stack's last deployment ({} before the first one)."""
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    try:
        result = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": name})
    except Exception:  # a stack never deployed has no outputs to read
        return {}
    outputs = (result.value or {}).get("outputs") or {}
    versions = outputs.get("versions")
    return versions if isinstance(versions, dict) else {}


def current_versions(cfg: PlatformConfig, previous: dict[str, Any]) -> dict[str, Any]:
    """What to export as `versions`: from the configured images, else what was deployed before (a digest or a
    stand-in does not forget the version the data was written with)."""
    out = {
        "postgresMajor": postgres_major(cfg.images.postgres) or previous.get("postgresMajor"),
        "gitlab": gitlab_version(cfg.images.gitlab) or previous.get("gitlab"),
    }
    return {k: v for k, v in out.items() if v is not None}


def refusals(cfg: PlatformConfig, previous: dict[str, Any]) -> list[str]:
    """Changes the program refuses before declaring anything."""
    problems = []
    before, after = previous.get("postgresMajor"), postgres_major(cfg.images.postgres)
    if before is not None and after is not None and int(before) != after:
        problems.append(
            f"images.postgres: '{cfg.images.postgres}' is PostgreSQL {after}, but this stack's databases were created "
            f"with PostgreSQL {before}, and a server cannot open another major version's data directory. Nothing was "
            f"changed. To move to PostgreSQL {after}: back up this stack (scripts/backup.py), create a new stack with "
            f"the new image and restore the backup into it (scripts/restore.py); see README, Upgrades. To stay, set "
            f"images.postgres back to a PostgreSQL {before} image."
        )
    return problems


def gitlab_upgrade(previous: dict[str, Any], cfg: PlatformConfig) -> Optional[tuple[str, str]]:
    """(from, to) when this deployment changes the GitLab version, else None."""
    before, after = previous.get("gitlab"), gitlab_version(cfg.images.gitlab)
    if before and after and before != after:
        return str(before), after
    return None
