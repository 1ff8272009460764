"""Write-audit-publish for the marts.

A stage writes its run's rows into `published.<mart>` (`write_run_rows`), checks them
(`check_*`), then `activate` moves the pointers of all its marts to the run in one transaction.
The views `marts.<mart>` read through those pointers, so BI readers never see a half-written or
mixed state, and a failed run leaves the previous run's marts readable and unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pandas as pd
import psycopg
from psycopg import sql

from include import config
from include.db.bulk import copy_dataframe
from include.errors import BadInputError

log = logging.getLogger(__name__)


class PublishCheckError(BadInputError, RuntimeError):
    """A mart failed its pre-publication check; nothing was published."""


def write_run_rows(conn: psycopg.Connection, mart: str, run_id: str, frame: pd.DataFrame) -> int:
    """Replace run `run_id`'s rows of published.<mart> with `frame` (idempotent per run).

    Not visible to BI until `activate`: the view shows the run current_runs points at.
    """
    table = sql.Identifier("published", mart)
    conn.execute(sql.SQL("delete from {} where run_id = %s").format(table), (run_id,))
    return copy_dataframe(conn, "published", mart, frame, constants={"run_id": run_id})


def write_run_rows_sql(
    conn: psycopg.Connection, mart: str, run_id: str, insert_sql: str, params: dict | None = None
) -> int:
    """Same as write_run_rows, for rows built by set-based SQL (`insert into published.<mart> ...`
    taking %(run_id)s among its parameters)."""
    table = sql.Identifier("published", mart)
    conn.execute(sql.SQL("delete from {} where run_id = %s").format(table), (run_id,))
    return conn.execute(insert_sql, {**(params or {}), "run_id": run_id}).rowcount


def check_not_empty(conn: psycopg.Connection, mart: str, run_id: str) -> int:
    """Raise PublishCheckError if the run wrote no rows to the mart; returns the row count."""
    query = sql.SQL("select count(*) from {} where run_id = %s").format(sql.Identifier("published", mart))
    count = conn.execute(query, (run_id,)).fetchone()[0]
    if count == 0:
        raise PublishCheckError(
            f"marts.{mart}: run {run_id} produced no rows; the previous run stays published"
        )
    return count


def check_unique(conn: psycopg.Connection, mart: str, run_id: str, key: Iterable[str]) -> None:
    """Raise PublishCheckError if `key` is not unique within the run's rows."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in key)
    query = sql.SQL(
        "select count(*) from (select 1 from {} where run_id = %s group by {} having count(*) > 1) d"
    ).format(sql.Identifier("published", mart), cols)
    dupes = conn.execute(query, (run_id,)).fetchone()[0]
    if dupes:
        raise PublishCheckError(
            f"marts.{mart}: {dupes} duplicate key(s) on ({', '.join(key)}) in run {run_id}"
        )


def activate(
    conn: psycopg.Connection, run_id: str, marts: Iterable[str], keep: int = config.RUNS_KEPT
) -> None:
    """Point the views of `marts` at `run_id`, in the caller's transaction, and drop the rows of
    runs beyond the newest `keep` published ones."""
    for mart in marts:
        conn.execute(
            "insert into published.current_runs (mart, run_id) values (%s, %s)"
            " on conflict (mart) do update set run_id = excluded.run_id, published_at = now()",
            (mart, run_id),
        )
        conn.execute(
            "insert into published.run_history (mart, run_id) values (%s, %s)"
            " on conflict (mart, run_id) do update set published_at = now()",
            (mart, run_id),
        )
        stale = [
            r[0]
            for r in conn.execute(
                "select run_id from published.run_history where mart = %s"
                " order by published_at desc offset %s",
                (mart, keep),
            )
        ]
        if stale:
            conn.execute(
                sql.SQL("delete from {} where run_id = any(%s)").format(sql.Identifier("published", mart)),
                (stale,),
            )
            conn.execute(
                "delete from published.run_history where mart = %s and run_id = any(%s)", (mart, stale)
            )
        log.info("marts.%s now shows run %s", mart, run_id)
