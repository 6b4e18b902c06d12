"""Two ways to run code under the recording mocks of tests/conftest.py, for the module-by-module unit tests:

- ``program(fn)`` runs ``fn`` alone (one component, one helper) and returns what it registered, with what ``fn``
  returned: Pulumi outputs resolved in ``outputs`` (value, is_secret), everything else as is in ``objects``.
- ``deployed(**config)`` is ``deploy(**config)`` run once per distinct config for the whole session, for tests
  that only read the result (never mutate what it returns).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.conftest import Run, close_loops, program_of, run_program


@pytest.fixture
def program():
    """program(fn, stack="dev"): ``fn`` declares resources and returns a dict (outputs and plain objects)."""
    loops: list[asyncio.AbstractEventLoop] = []
    yield lambda fn, stack="dev": run_program(loops, fn, stack)
    close_loops(loops)


@pytest.fixture(scope="session")
def deployed():
    """deployed(**config): the whole program under mocks, as ``deploy`` runs it, cached per config. Read only."""
    loops: list[asyncio.AbstractEventLoop] = []
    cache: dict[str, Run] = {}

    def get(stack: str = "dev", **config: Any) -> Run:
        key = json.dumps([stack, config], sort_keys=True)
        if key not in cache:
            cache[key] = run_program(loops, program_of(config, stack), stack)
        return cache[key]

    yield get
    close_loops(loops)
