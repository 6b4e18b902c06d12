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


def write_readme(readme: Path) -> None:
    """Replace the table in the README (the block of table lines starting with its header) with table()."""
    text = readme.read_text()
    header = table().splitlines()[0]
    start = text.index(header)
    end = start
    for line in text[start:].splitlines(keepends=True):
        if not line.startswith("|"):
            break
        end += len(line)
    readme.write_text(text[:start] + table() + text[end:])


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_readme(Path(__file__).resolve().parent.parent / "README.md")
    else:
        sys.stdout.write(table())
