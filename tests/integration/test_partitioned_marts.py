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


def test_an_earlier_versions_ordinary_table_moves_into_partitions(warehouse, db):
    """A warehouse made before product_pairs was partitioned: its ordinary table (primary key,
    every run's rows) becomes the partitioned table at the next schema apply, each run a partition
    of its own with its indexes, and BI reads the same rows through the same view."""
    from include.db import schema

    mart = publish.MARTS["product_pairs"]
    columns = (
        "run_id, product_id, other_product_id, invoices, support, confidence, lift, product_invoices,"
        " other_product_invoices, total_invoices"
    )
    db.execute("create table published.product_pairs__old (like published.product_pairs including all)")
    db.execute(
        "alter table published.product_pairs__old add primary key (run_id, product_id, other_product_id)"
    )
    db.execute(f"insert into published.product_pairs__old select {columns} from published.product_pairs")
    db.execute(
        f"insert into published.product_pairs__old ({columns})"
        " select r, 'p' || g, 'q' || g, g, 0.1, 0.2, g * 1.5, 3, 4, 5"
        " from unnest(array['legacy-1', 'legacy-2']) r, generate_series(1, 7) g"
    )
    before = db.execute("select count(*) from published.product_pairs__old").fetchone()[0]
    runs = [r[0] for r in db.execute("select distinct run_id from published.product_pairs__old order by 1")]
    view = db.execute("select pg_get_viewdef('marts.product_pairs'::regclass)").fetchone()[0]
    old_view = view.replace("published.product_pairs", "published.product_pairs__old")
    db.execute(f"create or replace view marts.product_pairs as {old_view}")  # as the old version had it
    db.execute("drop table published.product_pairs")
    db.execute("alter table published.product_pairs__old rename to product_pairs")
    shown = db.execute("select count(*) from marts.product_pairs").fetchone()[0]
    db.execute("delete from audit.schema_migrations")  # the files changed since: apply them

    with connect(warehouse) as conn:
        assert schema.apply_schema(conn)

    kind = db.execute(
        "select relkind from pg_class where oid = 'published.product_pairs'::regclass"
    ).fetchone()
    assert kind == ("p",)
    assert db.execute("select to_regclass('published.product_pairs__unpartitioned')").fetchone() == (None,)
    partitions = {
        r[0]: r[1]
        for r in db.execute(
            "select c.relname, (select count(*) from pg_indexes x where x.schemaname = 'published'"
            " and x.tablename = c.relname) from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " where i.inhparent = 'published.product_pairs'::regclass"
        )
    }
    assert partitions == {mart.partition(r): len(mart.partition_indexes) for r in runs}
    assert db.execute("select count(*) from published.product_pairs").fetchone()[0] == before
    assert db.execute(
        "select count(*), sum(lift) from published.product_pairs where run_id = 'legacy-2'"
    ).fetchone() == (7, 42.0)
    assert db.execute("select count(*) from marts.product_pairs").fetchone()[0] == shown
    with connect(warehouse) as conn:  # and the next apply finds nothing to do
        assert not schema.apply_schema(conn)
