"""Port assignment rules shared by config validation and the components (pure)."""

from __future__ import annotations

import hashlib

SSH_PORT_FIRST = 2201
SSH_PORT_LAST = 2999


def reserved_ports() -> set[int]:
    """The TCP ports the service host's proxy publishes for its services, as the services declare them."""
    from .services import gitlab, postgres  # imported here: the services import the config, which imports this

    return {gitlab.SSH_PORT, *postgres.PORTS.values()}


def dev_ssh_port(name: str) -> int:
    """A stable port from the environment's name alone: adding or removing others never moves it."""
    span = SSH_PORT_LAST - SSH_PORT_FIRST + 1
    port = SSH_PORT_FIRST + int(hashlib.sha256(name.encode()).hexdigest(), 16) % span
    return port
