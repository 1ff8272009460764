"""Publication as BI readers see it: a reader querying every mart in a loop while the pipeline
runs never gets an error, a missing relation, or rows of two runs mixed in one mart."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import sql

from include import config

pytestmark = pytest.mark.integration

DOWNSTREAM = ("segment_customers", "recommend_products", "publish_marts")


def _run_marts(db) -> list[str]:
    """marts views that show one run (they have a run_id column); pipeline_runs shows them all."""
    return [
        r[0]
        for r in db.execute(
            "select table_name from information_schema.columns where table_schema = 'marts'"
            " and column_name = 'run_id' and table_name <> 'pipeline_runs' order by 1"
        )
    ]


def _read_loop(uri: str, marts: list[str], stop: threading.Event, problems: list, reads: list) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        while not stop.is_set():
            for mart in marts:
                try:
                    runs = conn.execute(
                        sql.SQL("select count(distinct run_id), count(*) from {}").format(
                            sql.Identifier("marts", mart)
                        )
                    ).fetchone()
                except psycopg.Error as err:
                    problems.append(f"{mart}: {type(err).__name__}: {err}")
                    continue
                if runs[0] > 1:
                    problems.append(f"{mart}: rows of {runs[0]} runs at once")
                reads.append((mart, runs[1]))
            time.sleep(0.01)


def test_readers_never_see_a_broken_or_mixed_mart(dag_runner, db, warehouse):
    assert dag_runner("ingest_ecommerce", {"source": str(config.SAMPLE_SOURCE)}).state == "success"
    assert dag_runner("validate_and_clean", {}).state == "success"
    for dag_id in DOWNSTREAM:  # a first publication, so that every mart exists and has rows
        assert dag_runner(dag_id, {}).state == "success", dag_id
    marts = _run_marts(db)
    assert {"customer_segments", "customer_recommendations", "segment_monthly_trends"} <= set(marts)
    before = {
        m: db.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("marts", m))).fetchone()[0]
        for m in marts
    }

    stop, problems, reads = threading.Event(), [], []
    reader = threading.Thread(target=_read_loop, args=(warehouse, marts, stop, problems, reads), daemon=True)
    reader.start()
    try:
        for dag_id in DOWNSTREAM:  # the same data again: every mart is rewritten and switched
            assert dag_runner(dag_id, {}).state == "success", dag_id
    finally:
        stop.set()
        reader.join(timeout=30)
    assert problems == []
    assert len(reads) > 3 * len(marts), "the reader kept reading during the run"
    # same data, so the counts every read saw are the counts of a whole run
    for mart, count in reads:
        assert count == before[mart], (mart, count, before[mart])


def test_hyper_extract_holds_every_mart_row_for_row(db, tmp_path):
    """The Tableau Hyper extract (for users without a live connection) has every marts relation,
    with the row count the live view has. Runs after the publication test filled the marts."""
    from tableauhyperapi import Connection, HyperProcess, TableName, Telemetry

    from include.publish.tableau import export_hyper

    out = tmp_path / "marts.hyper"
    counts = export_hyper(db, out)
    live = {
        m: db.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("marts", m))).fetchone()[0]
        for m in counts
    }
    assert counts == live
    assert sum(live.values()) > 0, "the extract is not empty"
    with (
        HyperProcess(
            Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(tmp_path)}
        ) as hyper,
        Connection(hyper.endpoint, str(out)) as hconn,
    ):
        for mart, count in live.items():
            assert hconn.execute_scalar_query(f"select count(*) from {TableName('Extract', mart)}") == count


def test_readme_example_queries_run_as_the_bi_role(db, warehouse):
    """Every example query of the README's BI section runs as bi_reader and returns rows."""
    import re

    from include.publish.access import ensure_bi_role

    section = (config.PROJECT_ROOT / "README.md").read_text(encoding="utf-8").split("## For BI analysts")[1]
    examples = re.findall(r"`(select [^`]+)`", section.split("\n## ")[0])
    assert len(examples) >= 10
    ensure_bi_role(db, "bi_reader", "test-only-password")
    parts = psycopg.conninfo.conninfo_to_dict(warehouse)
    parts.update(user="bi_reader", password="test-only-password")
    with psycopg.connect(**parts, autocommit=True) as bi:
        for query in examples:
            bi.execute(query).fetchall()  # raises on a wrong table or column name
