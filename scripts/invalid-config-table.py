#!/usr/bin/env python3
"""Print the README's table of invalid configurations: every case tests/unit/test_config.py tries, and
the message the program answers with (tests/unit/test_readme.py keeps the README in sync)."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dap_components.config import ConfigError, load_config  # noqa: E402
from tests.unit.test_config import INVALID  # noqa: E402


def table() -> str:
    lines = ["| config given (besides `domain`) | key named | message |", "|---|---|---|"]
    for raw, key, fragment in INVALID:
        given = {k: v for k, v in raw.items() if not (k == "domain" and v == "dap.example.test")}
        try:
            load_config(raw)
            message = "NOT REJECTED"
        except ConfigError as err:
            message = next((m for k, m in err.problems if k == key and fragment in m), str(err.problems))
        cell = json.dumps(given).replace("|", "\\|")
        lines.append(f"| `{cell}` | `{key}` | {message.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table())
