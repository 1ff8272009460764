"""The publish_marts steps: trend marts per segment, the run history row, BI access, and a Tableau
Hyper extract. Trend marts are written, audited, then switched on together (include.publish.marts).
Each returns small metadata for XCom."""

from __future__ import annotations

import logging
import time

from include.db.connection import connect, execute_file, read_sql
from include.publish import marts as publish
from include.publish.access import ensure_bi_role

log = logging.getLogger(__name__)


def publish_trends(run_id: str) -> dict[str, int]:
    """Write, audit and activate the trend marts of run `run_id` in one transaction."""
    with connect() as conn:
        for mart in publish.TREND_MARTS:
            started = time.monotonic()
            rows = publish.write_run_rows_sql(conn, mart.name, run_id, read_sql(f"marts/{mart.name}.sql"))
            log.info(
                "published.%s: %d rows for run %s in %.2f s",
                mart.name,
                rows,
                run_id,
                time.monotonic() - started,
            )
        return publish.publish(conn, publish.TREND_MARTS, run_id)


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
