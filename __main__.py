"""Data Analysis Platform: load and validate the stack config, declare the platform, export its outputs."""

import pulumi

from dap_components.config import ConfigError, load_config, read_stack_config
from dap_components.platform import build

try:
    config = load_config(read_stack_config())
except ConfigError as err:
    # Stop before any resource is registered, with every offending key named.
    raise SystemExit(str(err)) from None

for key, value in build(config, pulumi.get_stack()).items():
    pulumi.export(key, value)
