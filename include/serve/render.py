"""HTML of the run report page and of the runbook (Jinja2 templates in include/serve/templates,
autoescaped), and the inline SVG bar chart of the recommendation metrics."""

from __future__ import annotations

import json
from datetime import UTC
from functools import cache
from html import escape
from pathlib import Path
from urllib.parse import quote

from markupsafe import Markup

from include import config
from include.serve.report import PLOT_TITLES, Report

TEMPLATES = Path(__file__).parent / "templates"
RUNBOOK = config.PROJECT_ROOT / "docs" / "runbook.md"
HYBRID = "hybrid"  # include.ml.evaluation.HYBRID: the method of the published lists
CHART_METRIC = "ndcg_at_10"


@cache
def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["count"] = lambda v: "" if v is None else f"{v:,}"
    env.filters["share"] = lambda v: "" if v is None else f"{v:.1%}"
    env.filters["num"] = lambda v, digits=4: "" if v is None else f"{v:,.{digits}f}"
    env.filters["seconds"] = lambda v: (
        ", ".join(f"{k} {s:.1f} s" for k, s in sorted(v.items())) if isinstance(v, dict) else str(v)
    )
    return env


def run_href(base: str, run_id: str) -> str:
    return f"{base}/report/runs/{quote(run_id, safe='')}"


def with_baseline(metrics: list[dict]) -> list[dict]:
    """Each metrics row with `vs_hybrid`: its NDCG@10 relative to the hybrid of its list type."""
    hybrid = {m["list_type"]: m[CHART_METRIC] for m in metrics if m["method"] == HYBRID}
    rows = []
    for m in metrics:
        reference = hybrid.get(m["list_type"])
        value = m[CHART_METRIC]  # None: not evaluated (a history too short, or the method skipped)
        vs = None if not reference or value is None or m["method"] == HYBRID else value / reference - 1
        rows.append({**m, "vs_hybrid": vs})
    return rows


def metrics_chart(metrics: list[dict], width: int = 720) -> Markup:
    """Horizontal bars of NDCG@10 per method, one group per list type, the hybrid highlighted."""
    bar, gap, label_w, value_w = 20, 6, 190, 150
    plot_w = width - label_w - value_w
    groups: dict[str, list[dict]] = {}
    for m in with_baseline(metrics):
        if m[CHART_METRIC] is not None:  # not evaluated: no bar
            groups.setdefault(m["list_type"], []).append(m)
    parts, y = [], 0
    for list_type, rows in groups.items():
        top = max((r[CHART_METRIC] for r in rows), default=0) or 1
        parts.append(f'<text x="0" y="{y + 16}" class="group">{escape(list_type)} list: NDCG@10</text>')
        y += 26
        for r in sorted(rows, key=lambda r: -r[CHART_METRIC]):
            length = max(1.0, plot_w * r[CHART_METRIC] / top)
            kind = "hybrid" if r["method"] == HYBRID else "baseline"
            vs = "" if r["vs_hybrid"] is None else f" ({r['vs_hybrid']:+.0%} vs hybrid)"
            parts.append(
                f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(r["method"])}</text>'
                f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar}" class="{kind}">'
                f"<title>{escape(r['method'])}: {r[CHART_METRIC]:.4f}</title></rect>"
                f'<text x="{label_w + length + 6:.1f}" y="{y + 15}">{r[CHART_METRIC]:.4f}{escape(vs)}</text>'
            )
            y += bar + gap
        y += 14
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{y}"'
        f' viewBox="0 0 {width} {y}" class="chart" aria-label="NDCG@10 of every method against the hybrid">'
        "<style>text{font:13px sans-serif;fill:#222}.group{font-weight:bold}"
        ".hybrid{fill:#017cee}.baseline{fill:#9aa5b1}</style>" + "".join(parts) + "</svg>"
    )
    return Markup(svg)


def report_page(report: Report, runs: list[dict], base: str) -> str:
    runs = [{**r, "published_at": r["published_at"].astimezone(UTC)} for r in runs]
    run = {**report.run, "published_at": report.run["published_at"].astimezone(UTC)}
    href = run_href(base, run["run_id"])
    plots = [{"name": n, "title": PLOT_TITLES[n], "src": f"{href}/plots/{n}.png"} for n in report.plots]
    return (
        _environment()
        .get_template("report.html")
        .render(
            run=run,
            report=report,
            runs=[{**r, "href": run_href(base, r["run_id"])} for r in runs],
            latest=runs[0]["run_id"] if runs else None,
            plots=plots,
            metrics=with_baseline(report.metrics),
            chart=metrics_chart(report.metrics),
            data_docs=f"{href}/data-docs/index.html" if report.has_data_docs else None,
            runbook=f"{base}/docs/runbook.md",
            api_docs=f"{base}/docs",
            seconds_by_dag=run["seconds_by_dag"]
            if isinstance(run["seconds_by_dag"], dict)
            else json.loads(run["seconds_by_dag"] or "{}"),
        )
    )


def empty_page(base: str) -> str:
    return _environment().get_template("empty.html").render(runbook=f"{base}/docs/runbook.md")


def login_page(login_url: str, reason: str) -> str:
    return _environment().get_template("login.html").render(login_url=login_url, reason=reason)


_RUNBOOK_CACHE: dict[float, str] = {}


def runbook_page() -> str:
    """docs/runbook.md as HTML (its `<a id>` anchors kept: the failure callback links to them);
    rendered again when the file changes."""
    from markdown_it import MarkdownIt

    mtime = RUNBOOK.stat().st_mtime
    if mtime not in _RUNBOOK_CACHE:
        body = (
            MarkdownIt("commonmark", {"html": True})
            .enable("table")
            .render(RUNBOOK.read_text(encoding="utf-8"))
        )
        _RUNBOOK_CACHE.clear()
        _RUNBOOK_CACHE[mtime] = _environment().get_template("runbook.html").render(body=Markup(body))
    return _RUNBOOK_CACHE[mtime]
