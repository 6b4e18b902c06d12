#!/usr/bin/env python3
"""Print Pulumi.yaml with its `config:` block generated from the typed config model (--write: update it)."""

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dap_components.config import project_config_schema  # noqa: E402

text = (ROOT / "Pulumi.yaml").read_text()
head = text.split("\nconfig:\n", 1)[0] + "\n"
new = head + yaml.safe_dump({"config": project_config_schema()}, sort_keys=False, width=120)
if "--write" in sys.argv[1:]:
    (ROOT / "Pulumi.yaml").write_text(new)
else:
    sys.stdout.write(new)
