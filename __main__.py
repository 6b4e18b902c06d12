"""Data Analysis Platform: load and validate the stack config, refuse upgrades that would lose data, declare the
platform, export its outputs."""

import pulumi

from dap_components import upgrades
from dap_components.config import ConfigError, load_config, read_stack_config
from dap_components.platform import build

try:
    config = load_config(read_stack_config())
except ConfigError as err:
    # Stop before any resource is registered, with every offending key named.
    raise SystemExit(str(err)) from None

# What this stack last deployed (its own `versions` output): a PostgreSQL major-version change stops here.
previous = upgrades.previous_versions()
refused = upgrades.refusals(config, previous)
if refused:
    raise SystemExit("\n".join(refused))

for key, value in build(config, pulumi.get_stack(), previous).items():
    pulumi.export(key, value)
