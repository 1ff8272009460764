"""Support shared by the tests of the serving app (tests/integration/test_serve.py,
tests/e2e/test_report_page.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx


def wait_until_healthy(
    url: str, seconds: float, interval: float, check: Callable[[], None] = lambda: None
) -> bool:
    """Poll GET <url>/health until it answers 200 (True) or `seconds` have passed (False);
    `check()` runs between attempts (e.g. asserting that the server's process still runs)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        check()
        time.sleep(interval)
    return False
