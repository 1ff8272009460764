"""apply_schema runs at every set-up (the prepare_warehouse task, make up, tests): once the schema is current it must take no DDL
lock, or a BI reader (or the next task) could wait on it or deadlock with it."""

from __future__ import annotations

import pytest

from include.db.connection import connect
from include.db.schema import SCHEMA_ORDER, apply_comments, apply_schema, documented_relations, schema_digest

pytestmark = pytest.mark.integration


def _exclusive_locks(conn) -> int:
    return conn.execute(
        "select count(*) from pg_locks where pid = pg_backend_pid() and mode = 'AccessExclusiveLock'"
        " and locktype = 'relation'"
    ).fetchone()[0]


def test_a_current_schema_applies_nothing_and_locks_nothing(warehouse, db):
    with connect(warehouse) as conn:  # one transaction, as in a task
        apply_schema(conn)
        assert _exclusive_locks(conn) == 0
    applied = db.execute("select count(*) from audit.schema_migrations where digest = %s", (schema_digest(),))
    assert applied.fetchone()[0] == 1


def test_a_changed_schema_is_applied_again(warehouse, db):
    db.execute("delete from audit.schema_migrations")  # as if a schema file had changed
    with connect(warehouse) as conn:
        apply_schema(conn)
        assert _exclusive_locks(conn) > 0, "the DDL ran (create or replace view takes the lock)"
    assert db.execute("select count(*) from audit.schema_migrations").fetchone()[0] == 1


def _database_comments(conn) -> dict[str, dict]:
    """Every comment on a relation or column of the warehouse's schemas, in comments.yaml's form."""
    rows = conn.execute(
        "select n.nspname || '.' || c.relname, a.attname, d.description"
        "  from pg_description d"
        "  join pg_class c on d.classoid = 'pg_class'::regclass and d.objoid = c.oid"
        "  join pg_namespace n on n.oid = c.relnamespace"
        "  left join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid and d.objsubid > 0"
        " where n.nspname = any(%s)",
        (list(SCHEMA_ORDER),),
    ).fetchall()
    found: dict[str, dict] = {}
    for relation, column, text in rows:
        entry = found.setdefault(relation, {})
        if column is None:
            entry["comment"] = text
        else:
            entry.setdefault("columns", {})[column] = text
    return found


def test_the_database_comments_are_exactly_those_of_comments_yaml(db):
    # One mechanism: every comment BI sees comes from sql/schema/comments.yaml, and all of it is applied
    # (322 texts when the comments moved there from the DDL files, identical in pg_description).
    assert _database_comments(db) == documented_relations()


def test_a_comment_on_a_missing_column_fails_naming_file_relation_and_column(warehouse):
    entries = {"marts.dim_customers": {"columns": {"customer_id": "kept", "no_such_column": "x"}}}
    with connect(warehouse) as conn:  # rolled back on leaving
        with pytest.raises(
            ValueError, match=r"comments\.yaml: marts\.dim_customers has no column no_such_column"
        ):
            apply_comments(conn, entries)
        with pytest.raises(ValueError, match=r"comments\.yaml: marts\.no_such_mart is not a table or view"):
            apply_comments(conn, {"marts.no_such_mart": {"comment": "x"}})
        conn.rollback()


def test_every_layout_lands_in_its_raw_table_every_source_column_as_text(db):
    from include.ingest.layouts import LAYOUTS

    for layout in LAYOUTS.values():
        found = db.execute(
            "select column_name, data_type, is_nullable from information_schema.columns"
            " where table_schema = 'raw' and table_name = %s order by ordinal_position",
            (layout.raw_table,),
        ).fetchall()
        assert found[:2] == [("load_id", "integer", "NO"), ("source_line_number", "integer", "NO")]
        assert found[2:] == [(c, "text", "YES") for c in layout.raw_columns], layout.name
