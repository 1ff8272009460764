"""The read-only BI role: reads every marts relation, cannot read raw/staging, cannot write."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.integration


@pytest.fixture
def bi_conn(warehouse, db):
    from include.publish.access import ensure_bi_role

    ensure_bi_role(db, "bi_reader", "test-only-password")
    parts = psycopg.conninfo.conninfo_to_dict(warehouse)
    parts.update(user="bi_reader", password="test-only-password")
    with psycopg.connect(**parts, autocommit=True) as conn:
        yield conn


def _marts(db) -> list[str]:
    return [
        r[0]
        for r in db.execute("select table_name from information_schema.tables where table_schema = 'marts'")
    ]


def test_reads_every_mart(bi_conn, db):
    names = _marts(db)
    assert names, "the schema marts has relations"
    for name in names:
        bi_conn.execute(sql.SQL("select * from {} limit 1").format(sql.Identifier("marts", name))).fetchall()


@pytest.mark.parametrize(
    "table", ["raw.online_retail_lines", "staging.order_lines", "audit.ingest_runs", "published.current_runs"]
)
def test_cannot_read_private_schemas(bi_conn, table):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bi_conn.execute(sql.SQL("select 1 from {} limit 1").format(sql.Identifier(*table.split("."))))


def test_cannot_write(bi_conn, db):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bi_conn.execute("create table marts.scratch (x int)")
    # a view PostgreSQL could write through (a UNION view refuses any DELETE before privileges)
    name = db.execute(
        "select table_name from information_schema.views where table_schema = 'marts'"
        " and is_updatable = 'YES' order by table_name limit 1"
    ).fetchone()[0]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bi_conn.execute(sql.SQL("delete from {}").format(sql.Identifier("marts", name)))


def test_marts_created_later_stay_readable(bi_conn, db):
    db.execute("create or replace view marts.access_probe as select 1 as one")
    try:
        assert bi_conn.execute("select one from marts.access_probe").fetchone() == (1,)
    finally:
        db.execute("drop view marts.access_probe")
