"""Order-independent checksums of warehouse tables and views: "did this rerun change anything?"

checksum = md5 of the sorted md5s of every row's text form, with the row count beside it: equal
checksums mean the same multiset of rows (duplicates change the count and the checksum).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

# Schemas whose tables and views hold the pipeline's data (audit is bookkeeping: it grows on reruns).
DATA_SCHEMAS = ("raw", "staging", "ml", "published", "marts")
# Views of audit history, bookkeeping like audit itself: every validation adds its results.
AUDIT_VIEWS = frozenset({"marts.data_quality_runs"})


@dataclass(frozen=True)
class TableChecksum:
    rows: int
    md5: str | None


def relations(conn: psycopg.Connection, schemas: tuple[str, ...] = DATA_SCHEMAS) -> list[str]:
    """Qualified names of the tables and views of `schemas`, sorted; not the partitions of a
    partitioned table (one per run, named after it: their rows are the parent's), nor AUDIT_VIEWS."""
    rows = conn.execute(
        "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition"
        " order by 1",
        (list(schemas),),
    ).fetchall()
    return [r[0] for r in rows if r[0] not in AUDIT_VIEWS]


def columns(conn: psycopg.Connection, relation: str) -> list[str]:
    schema, name = relation.split(".", 1)
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
        " order by ordinal_position",
        (schema, name),
    ).fetchall()
    return [r[0] for r in rows]


def table_checksum(
    conn: psycopg.Connection, relation: str, exclude: frozenset[str] = frozenset(), *, distinct: bool = False
) -> TableChecksum:
    """Row count and order-independent md5 of `relation` ("schema.name"), leaving out the
    columns named in `exclude` (e.g. bookkeeping timestamps); `distinct` checksums the set of
    distinct rows instead of the multiset."""
    schema, name = relation.split(".", 1)
    kept = [c for c in columns(conn, relation) if c not in exclude]
    if not kept:
        raise ValueError(f"{relation}: no column left to checksum (excluded {sorted(exclude)})")
    query = sql.SQL(
        "with t as (select " + ("distinct " if distinct else "") + "{cols} from {rel}),"
        " h as (select md5(t::text) as h from t)"
        " select count(*), md5(string_agg(h, '' order by h)) from h"
    ).format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in kept),
        rel=sql.Identifier(schema, name),
    )
    count, digest = conn.execute(query).fetchone()
    return TableChecksum(int(count), digest)


# Columns a rerun legitimately moves: when a pointer was last set or a model fitted, where a
# run's files went (folders named after the run), how long steps took.
BOOKKEEPING_COLUMNS = frozenset({"published_at", "fitted_at", "recorded_at", "created_at", "finished_at"})
RUN_LOG_COLUMNS = {
    "ml.segmentation_runs": frozenset({"model_dir", "plots"}),
    # which runs a publication points at, and which publication BI sees, move with every rerun
    "marts.pipeline_runs": frozenset(
        {"seconds_by_dag", "segments_run_id", "recommendations_run_id", "is_current"}
    ),
}
# Work in flight, not data: the runs audited and waiting for the end of their pipeline.
QUEUE_RELATIONS = frozenset({"published.staged_runs"})
RUN_KEY = "run_id"


def pipeline_snapshot(
    conn: psycopg.Connection,
    schemas: tuple[str, ...] = DATA_SCHEMAS,
    keys: tuple[str, ...] = (RUN_KEY,),
    exclude: dict[str, frozenset[str]] | None = None,
) -> dict[str, TableChecksum]:
    """What a rerun must leave unchanged, in one snapshot.

    Tables without a run_id (raw, staging, rebuilt ml tables) and the marts views: every row,
    duplicates counted. Run-keyed history (a run_id column: published.*, ml.* per run, the
    marts.pipeline_runs history view):
    a rerun that triggers new downstream runs adds the same rows under a new run_id, so they are
    compared as the set of distinct rows with run_id left out; duplicates inside a run are
    what their primary keys (which include run_id) forbid.

    `keys=("run_id", "load_id")` compares content across loads too: loading the same file again
    (a new load_id) must then leave every checksum unchanged. `exclude` adds columns to leave
    out per relation (RUN_LOG_COLUMNS are always left out).
    """
    extra = {**RUN_LOG_COLUMNS}
    for relation, cols in (exclude or {}).items():
        extra[relation] = extra.get(relation, frozenset()) | cols
    result = {}
    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read, read only")
        for relation in relations(conn, schemas):
            if relation in QUEUE_RELATIONS:
                continue
            cols = set(columns(conn, relation))
            keyed = bool(cols & set(keys))
            left_out = BOOKKEEPING_COLUMNS | set(keys) | extra.get(relation, frozenset())
            result[relation] = table_checksum(conn, relation, left_out & cols, distinct=keyed)
    return result


def differences(before: dict[str, TableChecksum], after: dict[str, TableChecksum]) -> dict[str, tuple]:
    """Relations whose checksum changed (or appeared, or disappeared): {name: (before, after)}."""
    names = sorted(set(before) | set(after))
    return {n: (before.get(n), after.get(n)) for n in names if before.get(n) != after.get(n)}


def duplicate_keys(conn: psycopg.Connection, relation: str, key: list[str]) -> int:
    """How many key values of `relation` occur more than once (0 = the key is unique)."""
    schema, name = relation.split(".", 1)
    query = sql.SQL("select count(*) from (select 1 from {rel} group by {key} having count(*) > 1) d").format(
        rel=sql.Identifier(schema, name), key=sql.SQL(", ").join(sql.Identifier(c) for c in key)
    )
    return int(conn.execute(query).fetchone()[0])
