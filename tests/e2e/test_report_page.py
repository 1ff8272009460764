"""The recommendation app inside the real api-server (the plugin), a token of that api-server
against `make serve`, and the report page in the Airflow UI, signed in with headless Chromium.

Uses the session's services and pipeline run (tests/e2e/conftest.py): one api-server for all.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from include import config
from tests.e2e.support import screenshot  # the DevTools plumbing of the grid screenshot
from tests.e2e.support.services import free_port, stop_group
from tests.serve_support import wait_until_healthy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = config.PROJECT_ROOT / "test-artifacts"
URL_ROUTE = "segments-and-recommendations"


@pytest.fixture(scope="module")
def token(airflow, pipeline_run) -> str:
    client = airflow.client()
    try:
        return client.login()
    finally:
        client.close()


@pytest.fixture(scope="module")
def mounted(airflow, pipeline_run) -> str:
    """The app's URL in the api-server, once it has loaded the session's published run."""
    url = f"{airflow.base_url}/recommendations"
    wanted = pipeline_run["runs"]["recommend_products"]["dag_run_id"]
    deadline = time.monotonic() + 90
    health = None
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/health", timeout=5)
        health = (
            answer.json() if answer.headers.get("content-type", "").startswith("application/json") else None
        )
        if answer.status_code == 200 and health["run_id"] == wanted:
            return url
        time.sleep(1)
    pytest.fail(f"the mounted app did not load run {wanted} within 90 s: {health}")


def test_the_plugin_is_registered_with_its_app_and_ui_entry(airflow, token):
    answer = httpx.get(f"{airflow.base_url}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"})
    plugin = next(p for p in answer.json()["plugins"] if p["name"] == "segments_and_recommendations")
    assert [a["url_prefix"] for a in plugin["fastapi_apps"]] == ["/recommendations"]
    view = plugin["external_views"][0]
    assert view["name"] == "Segments & recommendations" and view["url_route"] == URL_ROUTE


def test_the_mounted_app_answers_from_the_published_run(mounted, token, pipeline_run, db):
    auth = {"Authorization": f"Bearer {token}"}
    customer = db.execute("select min(customer_id) from marts.customer_segments").fetchone()[0]
    answer = httpx.get(f"{mounted}/customers/{customer}/recommendations", headers=auth)
    assert answer.status_code == 200
    assert answer.json()["run_id"] == pipeline_run["runs"]["recommend_products"]["dag_run_id"]
    segment = httpx.get(f"{mounted}/customers/{customer}/segment", headers=auth).json()
    assert segment["run_id"] == pipeline_run["runs"]["segment_customers"]["dag_run_id"]
    assert httpx.get(f"{mounted}/customers/{customer}/recommendations").status_code == 401
    assert httpx.get(f"{mounted}/products/NO-SUCH-PRODUCT/similar", headers=auth).status_code == 404
    assert httpx.get(f"{mounted}/products/85123A/similar?n=0", headers=auth).status_code == 422
    assert httpx.get(f"{mounted}/docs").status_code == 200  # the OpenAPI page under the prefix


def test_a_token_of_the_api_server_works_against_make_serve(airflow, mounted, token, db):
    """`make serve` (python -m tools.cli serve) in its own process, with the services'
    environment: it verifies the api-server's token with the shared secret."""
    port = free_port(None)
    log = airflow.run_dir / "logs" / "serve.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.cli", "serve", "--port", str(port)],
            env={**airflow.env, "SERVE_POLL_SECONDS": "1"},
            cwd=str(config.PROJECT_ROOT),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    http = httpx.Client(timeout=30)
    try:

        def still_running() -> None:
            assert proc.poll() is None, log.read_text()[-2000:]

        if not wait_until_healthy(url, seconds=90, interval=0.5, check=still_running):
            pytest.fail(f"make serve did not load the published run: {log.read_text()[-2000:]}")
        assert http.get(f"{url}/health").json()["run_id"] == http.get(f"{mounted}/health").json()["run_id"]
        product = db.execute("select min(product_id) from marts.product_pairs").fetchone()[0]
        bearer = {"Authorization": f"Bearer {token}"}
        answer = http.get(f"{url}/products/{product}/bought-together", headers=bearer)
        assert answer.status_code == 200, answer.text
        assert (
            answer.json()["items"]
            and answer.json()["run_id"] == http.get(f"{mounted}/health").json()["run_id"]
        )
        assert http.get(f"{url}/products/{product}/bought-together").status_code == 401
        forged = {
            "Authorization": f"Bearer {token[:-6]}{'AAAAAA' if not token.endswith('AAAAAA') else 'BBBBBB'}"
        }
        assert http.get(f"{url}/products/{product}/similar", headers=forged).status_code == 401
    finally:
        http.close()
        stop_group(proc.pid)


# --- the page in the UI -----------------------------------------------------------------------


async def _sign_in_and_open_report(
    ws_url: str, base_url: str, expect: list[str], out: Path, timeout: float
) -> dict:
    import websockets

    async with websockets.connect(ws_url, max_size=64 * 1024 * 1024) as ws:
        page = screenshot._Page(ws)
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride", width=1600, height=1300, deviceScaleFactor=1, mobile=False
        )
        target = f"{base_url}/plugin/{URL_ROUTE}"
        await page.goto(f"{base_url}/auth/login?next={target}")
        await page.wait_for("!!document.querySelector('input[name=username]')", timeout, "the sign-in form")
        for name, value in (
            ("username", config.AIRFLOW_ADMIN_USER),
            ("password", config.AIRFLOW_ADMIN_PASSWORD),
        ):
            await page.evaluate(f"document.querySelector('input[name={name}]').focus()")
            await page.send("Input.insertText", text=value)
        await page.evaluate("document.querySelector('button[type=submit]').click()")
        await page.wait_for("document.cookie.includes('_token=')", timeout, "signed in")
        await page.goto(target)
        frame = "document.querySelector('iframe')"
        doc = f"({frame} && {frame}.contentDocument)"
        await page.wait_for(
            f"!!{doc} && !!{doc}.body && "
            + " && ".join(f"{doc}.body.innerText.includes({json.dumps(text)})" for text in expect)
            + f" && [...{doc}.images].filter(i => i.complete && i.naturalWidth > 0).length >= 4",
            timeout,
            "the report page with its numbers and plots inside the UI",
        )
        found = await page.evaluate(
            "({nav: !!document.querySelector('a[href*=\"plugin/" + URL_ROUTE + "\"]'),"
            f" images: [...{doc}.images].filter(i => i.naturalWidth > 0).length,"
            f" svg: {doc}.querySelectorAll('svg rect.hybrid').length,"
            f" src: {frame}.getAttribute('src')}})"
        )
        await asyncio.sleep(1)
        shot = await page.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(shot["data"]))
        return found


def test_the_report_page_in_the_airflow_ui(airflow, mounted, pipeline_run, db):
    exe = screenshot.chromium_path()
    if exe is None:
        pytest.skip("chromium is not installed: apt-get install -y chromium (as root)")
    run_id = pipeline_run["runs"]["publish_marts"]["dag_run_id"]
    customers, chosen_k = db.execute(
        "select customers_segmented, chosen_k from marts.pipeline_runs where run_id = %s", (run_id,)
    ).fetchone()
    segment = db.execute(
        "select segment_name from marts.segment_profiles order by segment_id limit 1"
    ).fetchone()[0]
    out = ARTIFACTS / "report-page.png"
    out.unlink(missing_ok=True)
    # Chromium's helper processes may still write the profile when it is removed: leftovers stay
    with tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [
                exe,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--window-size=1600,1300",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port = screenshot._devtools_port(Path(profile), proc, 60)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
                ws_url = next(t["webSocketDebuggerUrl"] for t in json.load(answer) if t.get("type") == "page")
            expect = [run_id, f"{customers:,}", f"k = {chosen_k}", segment, "hybrid"]
            found = asyncio.run(_sign_in_and_open_report(ws_url, airflow.base_url, expect, out, 90))
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
    assert found["nav"], "no 'Segments & recommendations' entry in the UI navigation"
    assert found["images"] >= 4 and found["svg"] == 2, found
    assert found["src"].endswith("/recommendations/report"), found
    assert out.stat().st_size > 50_000  # a rendered page with plots, not a blank one
