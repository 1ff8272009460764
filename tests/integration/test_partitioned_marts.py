"""Write-audit-publish of a partitioned mart (the star schema's facts): each run is a partition
of its own with its indexes, a rerun replaces its rows, failed runs and runs beyond the history
leave with their partition, and a BI reader holding the table never makes a publication fail."""

from __future__ import annotations

import threading

import psycopg
import pytest

from include.db.connection import connect
from include.publish import marts as publish

pytestmark = pytest.mark.integration

PROBE = publish.Mart("probe_facts", ("line_key",), partition_indexes=(("item_id",),))
INSERT = (
    "insert into published.probe_facts (run_id, line_key, item_id, amount)"
    " select %(run_id)s, g, g %% 7, g * 0.5 from generate_series(1, %(lines)s) g"
)


@pytest.fixture
def probe(db):
    db.execute(
        "create table published.probe_facts (run_id text not null, line_key integer not null,"
        " item_id integer not null, amount numeric(14, 2) not null) partition by list (run_id)"
    )
    db.execute(
        "create view marts.probe_facts as select run_id, line_key, item_id, amount from published.probe_facts"
        " where run_id = (select run_id from published.current_runs where mart = 'probe_facts')"
    )
    yield PROBE
    db.execute("drop view marts.probe_facts")
    db.execute("drop table published.probe_facts")
    for table in ("current_runs", "run_history", "staged_runs"):
        db.execute(
            psycopg.sql.SQL("delete from {} where mart = 'probe_facts'").format(
                psycopg.sql.Identifier("published", table)
            )
        )


def _partitions(db) -> dict[str, int]:
    """partition -> its rows."""
    names = [
        r[0]
        for r in db.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " where i.inhparent = 'published.probe_facts'::regclass order by 1"
        )
    ]
    return {
        n: db.execute(
            psycopg.sql.SQL("select count(*) from {}").format(psycopg.sql.Identifier("published", n))
        ).fetchone()[0]
        for n in names
    }


def _publish(warehouse, run_id: str, lines: int, keep: int = 2) -> None:
    with connect(warehouse) as conn:
        publish.write_run_rows_sql(conn, PROBE, run_id, INSERT, {"lines": lines})
        publish.publish(conn, [PROBE], run_id, keep=keep)


def test_each_run_is_an_indexed_partition_and_history_is_bounded(probe, warehouse, db):
    _publish(warehouse, "r1", 10)
    assert _partitions(db) == {PROBE.partition("r1"): 10}
    indexes = db.execute(
        "select indexdef from pg_indexes where schemaname = 'published' and tablename = %s",
        (PROBE.partition("r1"),),
    ).fetchall()
    assert len(indexes) == 1 and "(item_id)" in indexes[0][0]
    _publish(warehouse, "r2", 20)
    _publish(warehouse, "r2", 30)  # a rerun of the same run replaces its rows
    assert db.execute("select run_id, count(*) from marts.probe_facts group by 1").fetchall() == [("r2", 30)]
    _publish(warehouse, "r3", 5)
    assert _partitions(db) == {PROBE.partition("r2"): 30, PROBE.partition("r3"): 5}  # keep=2: r1 dropped


def test_a_failed_run_leaves_with_its_partition_at_the_next_run(probe, warehouse, db):
    _publish(warehouse, "good", 3)
    with connect(warehouse) as conn:  # written and committed, never published (its audit failed)
        publish.write_run_rows_sql(conn, PROBE, "failed", INSERT, {"lines": 4})
    assert set(_partitions(db)) == {PROBE.partition("good"), PROBE.partition("failed")}
    with connect(warehouse) as conn:
        assert publish.drop_unpublished(conn, [PROBE], "next") == 1
    assert _partitions(db) == {PROBE.partition("good"): 3}
    assert db.execute("select count(*) from marts.probe_facts").fetchone()[0] == 3


def test_a_reader_holding_the_table_delays_no_publication(probe, warehouse, db, monkeypatch):
    """A BI query open on the mart blocks dropping a partition; the publication goes on after
    LOCK_WAIT_SECONDS and the stale partition goes with the next run."""
    monkeypatch.setattr(publish, "LOCK_WAIT_SECONDS", 1)
    _publish(warehouse, "a", 2)
    _publish(warehouse, "b", 2)
    with psycopg.connect(warehouse) as reader:
        reader.execute("select count(*) from marts.probe_facts").fetchone()  # holds its locks: open txn
        done = threading.Event()

        def publish_c():
            _publish(warehouse, "c", 2)  # keep=2: would drop run a's partition
            done.set()

        worker = threading.Thread(target=publish_c)
        worker.start()
        worker.join(timeout=30)
        assert done.is_set(), "the publication waited on the reader"
        reader.rollback()
    assert db.execute("select distinct run_id from marts.probe_facts").fetchall() == [("c",)]
    assert PROBE.partition("a") in _partitions(db)  # left for the next run
    _publish(warehouse, "d", 2)
    assert set(_partitions(db)) == {PROBE.partition("c"), PROBE.partition("d")}
