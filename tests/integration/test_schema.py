"""apply_schema runs at every set-up (the prepare_warehouse task, make up, tests): once the schema is current it must take no DDL
lock, or a BI reader (or the next task) could wait on it or deadlock with it."""

from __future__ import annotations

import pytest

from include.db.connection import connect
from include.db.schema import apply_schema, schema_digest

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
