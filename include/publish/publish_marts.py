"""The final publication step: trend marts per segment, the run history row, BI access, and an
optional Tableau Hyper extract. Trend marts are written, checked, then switched on together."""

from __future__ import annotations

import logging
import time

from include.db.connection import connect, ensure_schema, execute_file
from include.publish import marts as publish
from include.publish.access import ensure_bi_role

log = logging.getLogger(__name__)

TREND_MARTS = {
    "segment_monthly_trends": ("segment_id", "month_date"),
    "segment_weekday_hour_sales": ("segment_id", "iso_weekday", "hour_of_day"),
}


def publish_trends(run_id: str) -> dict[str, int]:
    """Write, check and activate the trend marts of run `run_id` in one transaction."""
    counts = {}
    with connect() as conn:
        ensure_schema(conn)
        for mart, key in TREND_MARTS.items():
            started = time.monotonic()
            publish.write_run_rows_sql(conn, mart, run_id, execute_sql(mart))
            counts[mart] = publish.check_not_empty(conn, mart, run_id)
            publish.check_unique(conn, mart, run_id, key)
            log.info(
                "published.%s: %d rows for run %s in %.2f s",
                mart,
                counts[mart],
                run_id,
                time.monotonic() - started,
            )
        publish.activate(conn, run_id, TREND_MARTS)
    return counts


def execute_sql(mart: str) -> str:
    from include.db.connection import read_sql

    return read_sql(f"marts/{mart}.sql")


def record_pipeline_run(run_id: str, status: str = "success") -> dict:
    """One row in audit.pipeline_runs (marts.pipeline_runs) for this publication."""
    with connect() as conn:
        row = execute_file(conn, "marts/pipeline_runs.sql", {"run_id": run_id, "status": status}).fetchone()
    summary = dict(zip(("run_id", "load_id", "customers_segmented", "chosen_k"), row, strict=False))
    log.info("pipeline run recorded: %s", summary)
    return summary


def grant_bi_access() -> None:
    with connect() as conn:
        ensure_bi_role(conn)


def export_hyper(run_id: str) -> str:
    """The marts as a Tableau Hyper extract under the run's folder; returns its path."""
    from include.publish.tableau import export_hyper as export
    from include.quality.validate import run_scoped_dir

    out = run_scoped_dir(run_id, "tableau") / "marts.hyper"
    with connect() as conn:
        export(conn, out)
    log.info("Hyper extract: %s", out)
    return str(out)
