"""Every integration test runs on the real test warehouse: the session's `warehouse` fixture
(tests/conftest.py) starts the server and migrates the databases once, before the first of them."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _warehouse(warehouse: str) -> str:
    return warehouse
