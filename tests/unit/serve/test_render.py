"""The report's chart and tables, and the served runbook (the failure callback's link target)."""

from __future__ import annotations

import os
import re

import pytest

from include import config
from include.orchestration import runbook_url
from include.serve import render

pytestmark = pytest.mark.unit

METRICS = [
    {"method": "hybrid", "list_type": "discover", "ndcg_at_10": 0.20},
    {"method": "content_only", "list_type": "discover", "ndcg_at_10": 0.05},
    {"method": "<b>odd</b>", "list_type": "discover", "ndcg_at_10": 0.10},
    {"method": "hybrid", "list_type": "buy_again", "ndcg_at_10": 0.50},
    {"method": "own_most_bought", "list_type": "buy_again", "ndcg_at_10": 0.40},
]


def test_every_method_is_compared_with_the_hybrid_of_its_list():
    vs = {(m["list_type"], m["method"]): m["vs_hybrid"] for m in render.with_baseline(METRICS)}
    assert vs[("discover", "hybrid")] is None
    assert vs[("discover", "content_only")] == pytest.approx(-0.75)  # 0.05 / 0.20 - 1
    assert vs[("buy_again", "own_most_bought")] == pytest.approx(-0.20)  # 0.40 / 0.50 - 1


def test_the_chart_draws_one_bar_per_method_hybrid_highlighted_and_escapes_names():
    svg = str(render.metrics_chart(METRICS))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="hybrid"') == 2 and svg.count('class="baseline"') == 3
    assert "<b>odd</b>" not in svg and "&lt;b&gt;odd&lt;/b&gt;" in svg
    assert "(-75% vs hybrid)" in svg
    widths = [float(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="([\d.]+)"', svg)]
    assert widths[0] == max(widths)  # the longest bar of a group is its best method


def test_the_runbook_page_keeps_every_anchor_the_failure_links_use():
    page = render.runbook_page()
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', page))
    source = set(
        re.findall(r'<a id="([^"]+)"></a>', (config.PROJECT_ROOT / "docs" / "runbook.md").read_text())
    )
    assert anchors == source and "ingest-ecommerce-load-raw" in anchors
    assert "<h2>" in page and "<table>" in page  # markdown rendered, tables included


@pytest.mark.skipif(bool(os.environ.get("RUNBOOK_URL")), reason="RUNBOOK_URL is set in the environment")
def test_failure_links_are_http_links_to_the_served_runbook():
    url = runbook_url("ingest_ecommerce", "load_raw")
    assert (
        url
        == f"http://127.0.0.1:{config.AIRFLOW_API_PORT}/recommendations/docs/runbook.md#ingest-ecommerce-load-raw"
    )
