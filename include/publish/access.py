"""The read-only BI role: SELECT on the marts views only, now and for marts added later."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from include import config

log = logging.getLogger(__name__)

PRIVATE_SCHEMAS = ("raw", "staging", "ml", "audit", "published")


def ensure_bi_role(conn: psycopg.Connection, role: str = config.BI_ROLE, password: str | None = None) -> None:
    """Create (or update) the login role `role` with SELECT on schema marts only (JIT off).

    The password comes from BI_READER_PASSWORD (never logged). Default privileges keep views
    and tables created later in marts readable. Idempotent.
    """
    password = config.BI_READER_PASSWORD if password is None else password
    ident = sql.Identifier(role)
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("create role {} login").format(ident))
    if password:
        # ALTER ROLE takes no bind parameters: psycopg quotes the literal client-side.
        conn.execute(sql.SQL("alter role {} login password {}").format(ident, sql.Literal(password)))
    # BI queries are short aggregates: JIT compilation (on by default, for any query the planner
    # costs above jit_above_cost, e.g. a scan of the sales fact) costs more than it saves there.
    conn.execute(sql.SQL("alter role {} set jit = off").format(ident))
    database = conn.info.dbname
    conn.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), ident))
    conn.execute(sql.SQL("grant usage on schema marts to {}").format(ident))
    conn.execute(sql.SQL("grant select on all tables in schema marts to {}").format(ident))
    conn.execute(
        sql.SQL("alter default privileges in schema marts grant select on tables to {}").format(ident)
    )
    for schema in PRIVATE_SCHEMAS:
        conn.execute(
            sql.SQL("revoke all on all tables in schema {} from {}").format(sql.Identifier(schema), ident)
        )
        conn.execute(sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(schema), ident))
    log.info("role %s: read-only on marts (database %s)", role, database)
