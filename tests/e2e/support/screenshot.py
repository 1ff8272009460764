"""A screenshot of the Airflow UI with headless Chromium, driven over the DevTools protocol.

Logs in through the UI's own sign-in form (the simple auth manager's), then opens a DAG's grid
view and saves a PNG. Needs the Debian `chromium` package; Playwright is not required: the
DevTools protocol is spoken over a websocket (the `websockets` package).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# What Runtime.evaluate answers while the page navigates (the sign-in form's submit redirects):
# the expression ran in a document that is going away; evaluate again in the new one.
NAVIGATING = (
    "Inspected target navigated or closed",
    "Execution context was destroyed",
    "Cannot find context",
)


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    return None


class _Page:
    """One page target of Chromium, spoken to with DevTools protocol commands."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def send(self, method: str, **params) -> dict:
        msg_id = next(self.ids)
        await self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"DevTools {method}: {msg['error']}")
                return msg.get("result", {})

    async def evaluate(self, expression: str):
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if await self.evaluate(expression):
                    return
            except RuntimeError as error:
                if not any(marker in str(error) for marker in NAVIGATING):
                    raise
                log.debug("page navigating while waiting for %s: %s", what, error)
            await asyncio.sleep(0.25)
        url = await self.evaluate("location.href")
        text = await self.evaluate("document.body ? document.body.innerText.slice(0, 300) : ''")
        raise TimeoutError(f"{what}: not seen within {timeout:.0f} s (page {url}: {text!r})")

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)


async def _login_and_capture(
    ws_url: str,
    base_url: str,
    dag_id: str,
    username: str,
    password: str,
    out: Path,
    timeout: float,
    window: tuple[int, int],
) -> None:
    import websockets

    async with websockets.connect(ws_url, max_size=64 * 1024 * 1024) as ws:
        page = _Page(ws)
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            width=window[0],
            height=window[1],
            deviceScaleFactor=1,
            mobile=False,
        )
        # 1. The sign-in form (the UI redirects there without a token).
        await page.goto(f"{base_url}/auth/login?next={base_url}/dags/{dag_id}")
        await page.wait_for("!!document.querySelector('input[name=username]')", timeout, "the sign-in form")
        for name, value in (("username", username), ("password", password)):
            await page.evaluate(f"document.querySelector('input[name={name}]').focus()")
            await page.send("Input.insertText", text=value)
        await page.evaluate("document.querySelector('button[type=submit]').click()")
        await page.wait_for(
            "document.cookie.includes('_token=') || !location.pathname.startsWith('/auth')",
            timeout,
            "signed in",
        )
        # 2. The DAG page, grid view (the UI remembers the view in localStorage).
        await page.evaluate("localStorage.setItem('default_dag_view', JSON.stringify('grid'))")
        await page.goto(f"{base_url}/dags/{dag_id}")
        await page.wait_for(
            f"document.body.innerText.includes({json.dumps(dag_id)})"
            " && document.querySelectorAll('[id^=grid-], [data-testid*=grid], a[href*=\"/runs/\"]').length > 0",
            timeout,
            f"the grid of {dag_id}",
        )
        await asyncio.sleep(3)  # let the run bars and icons settle
        shot = await page.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(shot["data"]))


def grid_screenshot(
    base_url: str,
    dag_id: str,
    out: Path,
    username: str,
    password: str,
    timeout: float = 60,
    window: tuple[int, int] = (1600, 1000),
) -> Path:
    """Sign in to the Airflow UI at `base_url` and save the grid view of `dag_id` to `out` (PNG)."""
    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install -y chromium)")
    # Chromium's helper processes may still write the profile when it is removed: leftovers stay
    with tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [
                exe,
                "--headless=new",
                "--no-sandbox",  # runs as root in containers
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                f"--window-size={window[0]},{window[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port = _devtools_port(Path(profile), proc, timeout)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
                targets = json.load(answer)
            ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
            asyncio.run(
                _login_and_capture(ws_url, base_url, dag_id, username, password, out, timeout, window)
            )
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    log.info("screenshot of %s's grid: %s", dag_id, out)
    return out


def _devtools_port(profile: Path, proc: subprocess.Popen, timeout: float) -> int:
    """Chromium writes the DevTools port it picked into <profile>/DevToolsActivePort."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited at start with code {proc.returncode}")
        if marker.is_file() and (text := marker.read_text().split()):
            return int(text[0])
        time.sleep(0.2)
    raise TimeoutError(f"chromium did not open its DevTools port within {timeout:.0f} s")
