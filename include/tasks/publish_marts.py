"""The publish_marts steps: the last DAG of the transaction pipeline. It resolves the staged runs
of the load (segments, recommendations), builds the trend marts and the star schema from them,
records the run, then switches every mart of the pipeline on in one transaction
(include.publish.marts), grants BI access and exports a Tableau Hyper extract. Each returns small
metadata for XCom."""

from __future__ import annotations

import logging
import time

from include import config
from include.db.connection import connect, execute_file, read_sql
from include.publish import marts as publish
from include.publish.access import ensure_bi_role

log = logging.getLogger(__name__)


def resolve_snapshot() -> dict:
    """The runs this publication switches on: the newest staged segmentation and recommendations
    (else the published ones: a rerun publishes the same snapshot again). Both must come from the
    load staging holds now, and recommendations must be newer than the segments they build on;
    otherwise the pipeline for the load is not complete and nothing is published."""
    with connect() as conn:
        load_id = conn.execute("select max(load_id) from staging.order_lines").fetchone()[0]
        segments = publish.staged_or_current(conn, publish.SEGMENT_MARTS["transactions"], "segment_customers")
        recommendations = publish.staged_or_current(conn, publish.RECOMMENDATION_MARTS, "recommend_products")
    for stage, dag_id in ((segments, "segment_customers"), (recommendations, "recommend_products")):
        if stage is None:
            raise publish.PublishCheckError(
                f"no {dag_id} run has staged its marts: run {dag_id} first; nothing published"
            )
        if stage.load_id != load_id:
            raise publish.PublishCheckError(
                f"{dag_id} run {stage.run_id} was built from load {stage.load_id}, but staging holds"
                f" load {load_id}: rerun {dag_id} for this load; BI stays on the previous complete run"
            )
    if segments.staged_at is not None and (
        recommendations.staged_at is None or recommendations.staged_at < segments.staged_at
    ):
        raise publish.PublishCheckError(
            f"segment_customers run {segments.run_id} is newer than the recommendations (run"
            f" {recommendations.run_id}): run recommend_products so that they build on it; BI stays on"
            " the previous complete run"
        )
    if segments.staged_at is None and recommendations.staged_at is None:
        log.info("nothing new staged: the published snapshot is switched on again (a no-op)")
    snapshot = {
        "load_id": load_id,
        "segments_run_id": segments.run_id,
        "recommendations_run_id": recommendations.run_id,
    }
    log.info("snapshot to publish: %s", snapshot)
    return snapshot


def publish_trends(run_id: str, snapshot: dict) -> dict[str, int]:
    """Write and audit the trend marts of run `run_id` from the snapshot's segments, and stage
    them (publish_snapshot switches them on with the rest)."""
    with connect() as conn:
        for mart in publish.TREND_MARTS:
            started = time.monotonic()
            rows = publish.write_run_rows_sql(
                conn,
                mart.name,
                run_id,
                read_sql(f"marts/{mart.name}.sql"),
                {"segments_run_id": snapshot["segments_run_id"]},
            )
            log.info(
                "published.%s: %d rows for run %s in %.2f s",
                mart.name,
                rows,
                run_id,
                time.monotonic() - started,
            )
        return publish.stage(conn, publish.TREND_MARTS, run_id, "publish_marts", snapshot["load_id"])


def publish_star_schema(run_id: str, snapshot: dict) -> dict[str, int]:
    """Write the star schema of run `run_id` (dimensions, then the facts: each one set-based
    insert ... select from staging and the snapshot's segments), audit it (keys unique, facts
    reconciled with staging in rows and amount, every fact key resolves to its dimension) and
    stage it (publish_snapshot switches it on with the rest)."""
    params = {
        "segments_run_id": snapshot["segments_run_id"],
        "price_bands": config.PRICE_BANDS,
        "group_min_products": config.PRODUCT_GROUP_MIN_PRODUCTS,
    }
    with connect() as conn:
        publish.drop_unpublished(conn, publish.STAR_MARTS, run_id)  # failed or superseded runs
        for mart in publish.STAR_MARTS:
            started = time.monotonic()
            rows = publish.write_run_rows_sql(
                conn, mart.name, run_id, read_sql(f"marts/{mart.name}.sql"), params
            )
            seconds = time.monotonic() - started
            log.info(
                "published.%s: %d rows for run %s in %.2f s (%.0f rows/s)",
                mart.name,
                rows,
                run_id,
                seconds,
                rows / seconds if seconds else 0,
            )
        started = time.monotonic()
        counts = publish.stage(conn, publish.STAR_MARTS, run_id, "publish_marts", snapshot["load_id"])
        log.info("star schema audited in %.2f s", time.monotonic() - started)
        return counts


def record_pipeline_run(run_id: str, snapshot: dict) -> dict:
    """This publication's row in audit.pipeline_runs (marts.pipeline_runs), status 'pending'."""
    params = {"run_id": run_id, "status": "pending", **snapshot}
    with connect() as conn:
        row = execute_file(conn, "marts/pipeline_runs.sql", params).fetchone()
    summary = dict(zip(("run_id", "load_id", "customers_segmented", "chosen_k"), row, strict=False))
    log.info("pipeline run recorded (pending): %s", summary)
    return summary


def publish_snapshot(run_id: str, snapshot: dict) -> dict:
    """One transaction: every mart of the pipeline switches to its run (segments, recommendations,
    trends and the star schema), and this publication becomes the current row of
    marts.pipeline_runs; an earlier publication left pending (it failed before it switched) is
    marked superseded."""
    with connect() as conn:
        switched = publish.publish_snapshot(
            conn,
            {
                snapshot["segments_run_id"]: publish.SEGMENT_MARTS["transactions"],
                snapshot["recommendations_run_id"]: publish.RECOMMENDATION_MARTS,
                run_id: (*publish.TREND_MARTS, *publish.STAR_MARTS),
            },
        )
        conn.execute(  # an earlier publication that never switched (it failed) is passed for good
            "update audit.pipeline_runs set is_current = (run_id = %(run)s),"
            " status = case when run_id = %(run)s then 'published'"
            " when status = 'pending' then 'superseded: ' || %(run)s || ' published after it'"
            " else status end,"
            " published_at = case when run_id = %(run)s then now() else published_at end",
            {"run": run_id},
        )
    log.info("BI now sees pipeline run %s: %s", run_id, snapshot)
    return {"run_id": run_id, **snapshot, "marts": len(switched)}


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
