"""The offline image set honours the contracts of the official images it replaces (images/verify.sh)."""

import re
import subprocess

import pytest

from .conftest import ROOT, docker_available

pytestmark = pytest.mark.integration


def test_every_offline_image_passes_its_contract_checks():
    if not docker_available():
        pytest.fail("no Docker engine answers: run `make engine`")
    res = subprocess.run(["bash", str(ROOT / "images" / "verify.sh")], capture_output=True, text=True, timeout=1800)
    tail = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    m = re.search(r"verify: (\d+) passed, (\d+) failed", tail)
    assert m, res.stdout[-3000:] + res.stderr[-3000:]
    passed, failed = int(m.group(1)), int(m.group(2))
    assert failed == 0 and passed >= 90, res.stdout[-5000:]
    assert res.returncode == 0
