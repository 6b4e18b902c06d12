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


# Instance CI/CD variables through the admin API (/api/v4/admin/ci/variables), run inside the GitLab
# container. stdin: the admin token, then one "KEY MASKED VALUE" line per variable. Each value reaches curl
# on its stdin (printf is a shell builtin), never on a command line; the output names keys only.
SET_CI_VARIABLES_SCRIPT = """set -eu
read -r token
api=http://127.0.0.1/api/v4/admin/ci/variables
while read -r key masked value; do
  [ -n "$key" ] || continue
  code=$(printf '%s' "$value" | curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "PRIVATE-TOKEN: $token" \\
    --data-urlencode value@- --data "masked=$masked" --data raw=true --data protected=false "$api/$key")
  if [ "$code" = 404 ]; then
    code=$(printf '%s' "$value" | curl -sS -o /dev/null -w '%{http_code}' -X POST -H "PRIVATE-TOKEN: $token" \\
      --data "key=$key" --data-urlencode value@- --data "masked=$masked" --data raw=true --data protected=false "$api")
  fi
  case "$code" in
    200|201) echo "instance variable $key set" ;;
    *) echo "instance variable $key: HTTP $code" >&2; exit 1 ;;
  esac
done
"""


def render_ci_variables_input(token: str, variables: Sequence[tuple[str, str, bool]]) -> str:
    """stdin of SET_CI_VARIABLES_SCRIPT: the token, then (key, value, masked) one per line."""
    lines = [token]
    for key, value, masked in variables:
        if not key.replace("_", "").isalnum() or not value or any(c.isspace() for c in value):
            raise ValueError(f"CI variable {key}: a key of letters, digits and '_' and a value without spaces")
        lines.append(f"{key} {'true' if masked else 'false'} {value}")
    return "\n".join(lines) + "\n"


def delete_ci_variables_script(keys: Sequence[str]) -> str:
    """Removes the program's instance variables (stdin: the admin token); already gone is fine."""
    return "set -u\nread -r token\n" + "".join(
        f'curl -sS -o /dev/null -w "%{{http_code}}" -X DELETE -H "PRIVATE-TOKEN: $token" '
        f"http://127.0.0.1/api/v4/admin/ci/variables/{key} | grep -qE '^(204|404)$'\n"
        for key in keys
    )
