"""The README's table of invalid configurations is the one the tests produce."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_invalid_config_table_in_readme_is_current():
    spec = importlib.util.spec_from_file_location("table", ROOT / "scripts" / "invalid-config-table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    table = mod.table()
    assert "NOT REJECTED" not in table
    assert table in (ROOT / "README.md").read_text(), "regenerate: venv/bin/python scripts/invalid-config-table.py --write"
