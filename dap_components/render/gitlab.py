"""gitlab.rb for the Omnibus container behind the platform proxy."""

from __future__ import annotations

from typing import Sequence

from . import SECRETS_DIR

ROOT_PASSWORD_FILE = f"{SECRETS_DIR}/gitlab_root_password"
REGISTRY_PORT = 5050  # the registry's plain-HTTP listener inside the container (proxied, never published)


def _rb(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_gitlab_rb(external_url: str, registry_url: str, ssh_port: int, trusted_proxies: Sequence[str]) -> str:
    """``external_url`` and ``registry_url``: the public URLs (with the proxy's port when it is not 443)."""
    trusted = ", ".join(_rb(c) for c in trusted_proxies)
    return f"""# Rendered by the data-analysis-platform Pulumi program. Do not edit: `pulumi up` replaces it.
external_url {_rb(external_url)}
letsencrypt['enable'] = false

# TLS ends at the platform proxy; the bundled nginx serves plain HTTP on 80 behind it.
nginx['listen_port'] = 80
nginx['listen_https'] = false
nginx['real_ip_trusted_addresses'] = [{trusted}]
nginx['real_ip_header'] = 'X-Forwarded-For'
nginx['real_ip_recursive'] = 'on'
nginx['proxy_set_headers'] = {{ 'X-Forwarded-Proto' => 'https', 'X-Forwarded-Ssl' => 'on' }}
gitlab_rails['trusted_proxies'] = [{trusted}]

# Git over SSH through the proxy's TCP stream.
gitlab_rails['gitlab_shell_ssh_port'] = {int(ssh_port)}

# First start only: the generated root password, handed over as a file.
gitlab_rails['initial_root_password'] = File.read({_rb(ROOT_PASSWORD_FILE)}).strip

# Container registry behind the proxy (no port published by this container).
registry_external_url {_rb(registry_url)}
gitlab_rails['registry_enabled'] = true
registry_nginx['enable'] = true
registry_nginx['listen_port'] = {REGISTRY_PORT}
registry_nginx['listen_https'] = false
registry_nginx['proxy_set_headers'] = {{ 'X-Forwarded-Proto' => 'https', 'X-Forwarded-Ssl' => 'on' }}
registry_nginx['real_ip_trusted_addresses'] = [{trusted}]

# A single-host install: keep the footprint small.
prometheus_monitoring['enable'] = false
gitlab_rails['usage_ping_enabled'] = false
puma['worker_processes'] = 2
sidekiq['concurrency'] = 10
"""
