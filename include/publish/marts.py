"""Write-audit-publish for the marts: one mechanism for every stage.

Each mart is declared once (`MARTS`): its key and its checks, queries that must return no rows
for the run being published. A stage writes its run's rows into `published.<mart>`
(`write_run_rows`, `write_run_rows_sql`: invisible to BI), then `stage` audits them (rows
present, key unique, every declared check empty) and records the run in
`published.staged_runs`. The last DAG of the pipeline moves every mart's pointer to its staged
run in one transaction (`publish_snapshot`), so BI switches from one complete run of the whole
pipeline to the next: a stage that succeeds while a later one fails leaves BI on the previous
complete run, its own rows inspectable in `published.<mart>` by run id. (`publish` audits and
switches in one go, for a pipeline whose last stage is the one writing.) The views
`marts.<mart>` read through `published.current_runs`, so BI never sees a half-written or mixed
state.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import psycopg
from psycopg import sql

from include import config
from include.db.bulk import copy_dataframe
from include.db.watch import watched
from include.errors import BadInputError

log = logging.getLogger(__name__)


class PublishCheckError(BadInputError, RuntimeError):
    """A mart failed its pre-publication check; nothing was published."""


@dataclass(frozen=True)
class Check:
    """`query` (with %(run_id)s) returns the rows that break `rule`; none may come back."""

    rule: str
    query: sql.Composable


@dataclass(frozen=True)
class Mart:
    """A BI-facing mart: history table published.<name>, view marts.<name>.

    A mart with `partition_indexes` (the large facts) is list-partitioned on run_id, one
    partition per run: a run's rows go into a fresh partition without indexes, which are then
    built in bulk (`partition_indexes`, run_id being constant within the partition) and analysed;
    a run leaves with its partition (DROP) instead of a DELETE of millions of rows."""

    name: str
    key: tuple[str, ...]
    checks: tuple[Check, ...] = ()
    partition_indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier(config.PUBLISHED_SCHEMA, self.name)

    @property
    def partitioned(self) -> bool:
        return bool(self.partition_indexes)

    def partition(self, run_id: str) -> str:
        """The name of the run's partition (run ids hold ':' and '+': a digest, not the id)."""
        return f"{self.name}__{hashlib.sha1(run_id.encode()).hexdigest()[:16]}"


def _count(schema: str, table: str, expression: str = "count(*)", where: str = "") -> sql.Composed:
    """`select <expression> from <schema>.<table> where run_id = %(run_id)s [and <where>]`."""
    condition = sql.SQL(f" and {where}" if where else "")
    return sql.SQL("select {} from {} where run_id = %(run_id)s{}").format(
        sql.SQL(expression), sql.Identifier(schema, table), condition
    )


def _same_count(left: sql.Composed, right: sql.Composed, what: str) -> sql.Composed:
    """A check query: the two counting queries (each with %(run_id)s) must agree."""
    return sql.SQL("select l.n as {}, r.n as {} from ({}) l (n), ({}) r (n) where l.n <> r.n").format(
        sql.Identifier(f"{what}_expected"), sql.Identifier(f"{what}_found"), left, right
    )


def _segment_marts(customers: str, profiles: str, metrics: str, features: str) -> tuple[Mart, ...]:
    published = config.PUBLISHED_SCHEMA
    return (
        Mart(
            customers,
            ("customer_id",),
            (
                Check(
                    f"one row per customer of ml.{features}",
                    _same_count(
                        _count(config.ML_SCHEMA, features), _count(published, customers), "customers"
                    ),
                ),
            ),
        ),
        Mart(
            profiles,
            ("segment_id",),
            (
                Check(
                    f"one profile per segment of marts.{customers}",
                    _same_count(
                        _count(published, customers, "count(distinct segment_id)"),
                        _count(published, profiles),
                        "segments",
                    ),
                ),
            ),
        ),
        Mart(
            metrics,
            ("algorithm", "k"),
            (
                Check(
                    "exactly one row is_chosen",
                    sql.SQL("{} having count(*) filter (where is_chosen) <> 1").format(
                        _count(published, metrics, "count(*) filter (where is_chosen) as chosen_rows")
                    ),
                ),
            ),
        ),
    )


# Every mart, by stage. Names and keys are the BI contract (docs/data_dictionary.md).
SEGMENT_MARTS = {
    "transactions": _segment_marts(
        "customer_segments", "segment_profiles", "segmentation_metrics", "customer_features"
    ),
    "customer_profiles": _segment_marts(
        "profile_segments", "profile_segment_profiles", "profile_segmentation_metrics", "profile_features"
    ),
}
# Partitioned by run like the facts: a run's rows load into a bare partition (the mapped blocks
# of similarity and lists too), indexed once they are all in (publish_recommendations).
RECOMMENDATION_MARTS = (
    Mart(
        "product_similarity",
        ("product_id", "method", "rank"),
        partition_indexes=(("product_id", "method", "rank"),),
    ),
    Mart(
        "product_pairs",
        ("product_id", "other_product_id"),
        # the key; "what is bought with this product" from either side, strongest first
        partition_indexes=(("product_id", "other_product_id"), ("other_product_id",), ("lift desc",)),
    ),
    Mart(
        "customer_recommendations",
        ("customer_id", "list_type", "rank"),
        (
            # the lists are written in mapped blocks of customers: a lost block shows here
            Check(
                "a discover list for every customer of staging.customers",
                sql.SQL(
                    "select c.customer_id as customer_without_list from staging.customers c where not exists"
                    " (select 1 from {} r where r.run_id = %(run_id)s and r.list_type = 'discover'"
                    " and r.customer_id = c.customer_id) order by 1 limit 5"
                ).format(sql.Identifier(config.PUBLISHED_SCHEMA, "customer_recommendations")),
            ),
        ),
        # the key; "who is this product recommended to" (product filters in dashboards)
        partition_indexes=(("customer_id", "list_type", "rank"), ("product_id", "list_type")),
    ),
    Mart(
        "recommendation_metrics",
        ("method", "list_type"),
        (
            Check(
                "the hybrid scored for both list types (discover, buy_again)",
                sql.SQL("{} having count(*) <> 2").format(
                    _count(
                        config.PUBLISHED_SCHEMA,
                        "recommendation_metrics",
                        "count(*) as hybrid_rows",
                        "method = 'hybrid'",
                    )
                ),
            ),
        ),
    ),
)
TREND_MARTS = (
    Mart("segment_monthly_trends", ("segment_id", "month_date")),
    Mart("segment_weekday_hour_sales", ("segment_id", "iso_weekday", "hour_of_day")),
)


def _reconciles(fact: str, staging: str) -> Check:
    """The fact holds exactly the staging table's lines: same row count, same total amount."""
    return Check(
        f"one row per line of staging.{staging}, same total amount",
        sql.SQL(
            "select s.n as staging_rows, f.n as fact_rows, s.amount as staging_amount, f.amount as fact_amount"
            " from (select count(*), coalesce(sum(line_amount), 0) from {}) s (n, amount),"
            " (select count(*), coalesce(sum(amount), 0) from {} where run_id = %(run_id)s) f (n, amount)"
            " where s.n <> f.n or s.amount <> f.amount"
        ).format(
            sql.Identifier(config.STAGING_SCHEMA, staging), sql.Identifier(config.PUBLISHED_SCHEMA, fact)
        ),
    )


def _resolves(fact: str, key: str, dimension: str, dimension_key: str | None = None) -> Check:
    """Every non-null `key` of the fact's run has a row in the dimension of the same run."""
    dimension_key = dimension_key or key
    return Check(
        f"every {key} resolves to marts.{dimension}",
        sql.SQL(
            "select f.{key} as {orphan}, count(*) as fact_rows from {fact} f"
            " where f.run_id = %(run_id)s and f.{key} is not null and not exists"
            " (select 1 from {dim} d where d.run_id = f.run_id and d.{dim_key} = f.{key})"
            " group by f.{key} order by f.{key}"
        ).format(
            key=sql.Identifier(key),
            orphan=sql.Identifier(f"orphan_{key}"),
            fact=sql.Identifier(config.PUBLISHED_SCHEMA, fact),
            dim=sql.Identifier(config.PUBLISHED_SCHEMA, dimension),
            dim_key=sql.Identifier(dimension_key),
        ),
    )


def _one_row_per(mart: str, staging: str) -> Check:
    return Check(
        f"one row per row of staging.{staging}",
        _same_count(
            sql.SQL("select count(*) from {}").format(sql.Identifier(config.STAGING_SCHEMA, staging)),
            _count(config.PUBLISHED_SCHEMA, mart),
            "rows",
        ),
    )


def _facts(name: str, staging: str, key: str) -> Mart:
    return Mart(
        name,
        (key,),
        (
            _reconciles(name, staging),
            _resolves(name, "customer_id", "dim_customers"),
            _resolves(name, "product_id", "dim_products"),
            _resolves(name, "date_key", "dim_dates"),
        ),
        # what BI slices the facts by (bench/bi_queries.py); each partition holds one run, so an
        # index on (date_key) there is the (run_id, date_key) index of the whole table
        partition_indexes=(("date_key",), ("customer_id",), ("product_id",)),
    )


# The star schema, built by publish_marts from the snapshot it publishes (dimensions first: the
# facts' checks look their keys up in them).
STAR_MARTS = (
    Mart("dim_customers", ("customer_id",), (_one_row_per("dim_customers", "customers"),)),
    Mart("dim_products", ("product_id",), (_one_row_per("dim_products", "products"),)),
    Mart("dim_dates", ("date_key",)),
    _facts("fct_order_lines", "order_lines", "order_line_key"),
    _facts("fct_returns", "returns", "return_line_key"),
)
MARTS = {
    m.name: m
    for m in (
        *SEGMENT_MARTS["transactions"],
        *SEGMENT_MARTS["customer_profiles"],
        *RECOMMENDATION_MARTS,
        *TREND_MARTS,
        *STAR_MARTS,
    )
}


# --- write ------------------------------------------------------------------------------------


def _mart(mart: str | Mart) -> Mart:
    if isinstance(mart, Mart):
        return mart
    return MARTS.get(mart) or Mart(mart, ())


def _clear_run(conn: psycopg.Connection, mart: Mart, run_id: str) -> None:
    """Empty the run's rows of published.<mart>: a DELETE, or for a partitioned mart a fresh
    partition of its own (a rerun truncates it and drops its indexes, rebuilt after the load)."""
    if not mart.partitioned:
        conn.execute(sql.SQL("delete from {} where run_id = %s").format(mart.table), (run_id,))
        return
    partition = sql.Identifier(config.PUBLISHED_SCHEMA, mart.partition(run_id))
    exists = conn.execute(
        "select to_regclass(%s) is not null", (f"{config.PUBLISHED_SCHEMA}.{mart.partition(run_id)}",)
    )
    if exists.fetchone()[0]:
        _drop_run_indexes(conn, mart, run_id)
        conn.execute(sql.SQL("truncate {}").format(partition))
        return
    # created on its own, then attached: ATTACH waits for no reader (CREATE ... PARTITION OF would)
    conn.execute(
        sql.SQL("create table {} (like {} including defaults including constraints)").format(
            partition, mart.table
        )
    )
    conn.execute(
        sql.SQL("alter table {} attach partition {} for values in ({})").format(
            mart.table, partition, sql.Literal(run_id)
        )
    )


def open_run_partition(conn: psycopg.Connection, mart: str | Mart, run_id: str) -> None:
    """Make the run's partition of a partitioned mart ready for rows written in blocks (the
    mapped tasks each replace their own): created when missing, its rows kept, its indexes
    dropped so the blocks load in bulk; `index_run` builds them when every block is in."""
    mart = _mart(mart)
    qualified = f"{config.PUBLISHED_SCHEMA}.{mart.partition(run_id)}"
    if conn.execute("select to_regclass(%s) is null", (qualified,)).fetchone()[0]:
        _clear_run(conn, mart, run_id)
        return
    _drop_run_indexes(conn, mart, run_id)


def _drop_run_indexes(conn: psycopg.Connection, mart: Mart, run_id: str) -> None:
    for i, _ in enumerate(mart.partition_indexes):
        conn.execute(
            sql.SQL("drop index if exists {}").format(
                sql.Identifier(config.PUBLISHED_SCHEMA, f"{mart.partition(run_id)}_{i}")
            )
        )


def _index_column(column: str) -> sql.Composable:
    """An index column of Mart.partition_indexes: a column name, or "<name> desc"."""
    name, _, order = column.partition(" ")
    if order not in ("", "desc"):
        raise ValueError(f"index column {column!r}: expected '<column>' or '<column> desc'")
    return sql.Identifier(name) + sql.SQL(" desc" if order else "")


def index_run(conn: psycopg.Connection, mart: str | Mart, run_id: str) -> None:
    """Build the indexes of a partitioned mart's run partition, in bulk (those missing), and
    analyse it; nothing for a mart that is not partitioned."""
    mart = _mart(mart)
    if not mart.partitioned:
        return
    name = mart.partition(run_id)
    partition = sql.Identifier(config.PUBLISHED_SCHEMA, name)
    for i, columns in enumerate(mart.partition_indexes):
        conn.execute(
            sql.SQL("create index if not exists {} on {} ({})").format(
                sql.Identifier(f"{name}_{i}"), partition, sql.SQL(", ").join(map(_index_column, columns))
            )
        )
    conn.execute(sql.SQL("analyze {}").format(partition))


LOCK_WAIT_SECONDS = 5


def _drop_partitions(conn: psycopg.Connection, mart: Mart, names: list[str]) -> int:
    """Drop these partitions of published.<mart>; returns how many. Dropping a partition waits
    for the BI readers of the mart: after LOCK_WAIT_SECONDS it gives up, leaving the partition
    to the next run (the publication goes on)."""
    dropped = 0
    for name in names:
        qualified = f"{config.PUBLISHED_SCHEMA}.{name}"
        if conn.execute("select to_regclass(%s) is null", (qualified,)).fetchone()[0]:
            continue
        previous = conn.execute("select current_setting('lock_timeout')").fetchone()[0]
        try:
            with conn.transaction():  # a savepoint: a lock timeout undoes this drop only
                conn.execute("select set_config('lock_timeout', %s, true)", (f"{LOCK_WAIT_SECONDS}s",))
                conn.execute(sql.SQL("drop table {}").format(sql.Identifier(config.PUBLISHED_SCHEMA, name)))
            dropped += 1
            conn.execute("delete from published.stale_partitions where partition_name = %s", (name,))
        except psycopg.errors.LockNotAvailable:
            conn.execute(
                "insert into published.stale_partitions (partition_name, mart) values (%s, %s)"
                " on conflict (partition_name) do nothing",
                (name, mart.name),
            )
            log.warning(
                "published.%s: BI readers held %s for %d s; it stays until the next run drops it",
                mart.name,
                qualified,
                LOCK_WAIT_SECONDS,
            )
        finally:
            conn.execute("select set_config('lock_timeout', %s, true)", (previous,))
    return dropped


# --- moving an earlier version's ordinary tables into partitions ----------------------------

LEGACY_SUFFIX = "__unpartitioned"


def set_aside_unpartitioned(conn: psycopg.Connection) -> list[Mart]:
    """Before the schema files run: a partitioned mart whose table an earlier version made as an
    ordinary table is renamed published.<mart>__unpartitioned, so that its file creates the
    partitioned table (and the marts view is re-pointed at it); `move_into_partitions` then moves
    the rows. Returns the marts set aside."""
    aside = []
    for mart in MARTS.values():
        kind = conn.execute(
            "select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relname = %s",
            (config.PUBLISHED_SCHEMA, mart.name),
        ).fetchone()
        if mart.partitioned and kind is not None and kind[0] == "r":
            conn.execute(
                sql.SQL("alter table {} rename to {}").format(
                    mart.table, sql.Identifier(mart.name + LEGACY_SUFFIX)
                )
            )
            aside.append(mart)
    return aside


def move_into_partitions(conn: psycopg.Connection, marts: Iterable[Mart]) -> None:
    """After the schema files: every run of each set-aside table goes into a partition of its own
    (indexed), in the caller's transaction, and the old table is dropped: BI sees the same rows."""
    for mart in marts:
        legacy = sql.Identifier(config.PUBLISHED_SCHEMA, mart.name + LEGACY_SUFFIX)
        columns = sql.SQL(", ").join(
            sql.Identifier(r[0])
            for r in conn.execute(
                "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0"
                " and not attisdropped order by attnum",
                (f"{config.PUBLISHED_SCHEMA}.{mart.name}",),
            )
        )
        runs = [
            r[0] for r in conn.execute(sql.SQL("select distinct run_id from {} order by 1").format(legacy))
        ]
        for run_id in runs:
            _clear_run(conn, mart, run_id)
            conn.execute(
                sql.SQL("insert into {} ({}) select {} from {} where run_id = %s").format(
                    mart.table, columns, columns, legacy
                ),
                (run_id,),
            )
            index_run(conn, mart, run_id)
        conn.execute(sql.SQL("drop table {}").format(legacy))
        log.info("published.%s: %d runs moved into partitions of their own", mart.name, len(runs))


def write_run_rows(conn: psycopg.Connection, mart: str | Mart, run_id: str, frame: pd.DataFrame) -> int:
    """Replace run `run_id`'s rows of published.<mart> with `frame` (idempotent per run); `mart`
    is a declared mart or its name.

    Not visible to BI until `publish`: the view shows the run current_runs points at.
    """
    mart = _mart(mart)
    _clear_run(conn, mart, run_id)
    rows = copy_dataframe(conn, config.PUBLISHED_SCHEMA, mart.name, frame, constants={"run_id": run_id})
    index_run(conn, mart, run_id)
    return rows


def write_run_rows_sql(
    conn: psycopg.Connection, mart: str | Mart, run_id: str, insert_sql: str, params: dict | None = None
) -> int:
    """Same as write_run_rows, for rows built by set-based SQL (`insert into published.<mart> ...`
    taking %(run_id)s among its parameters)."""
    mart = _mart(mart)
    _clear_run(conn, mart, run_id)
    with watched(conn, f"published.{mart.name} of run {run_id}"):
        rows = conn.execute(insert_sql, {**(params or {}), "run_id": run_id}).rowcount
    with watched(conn, f"indexes of published.{mart.name} for run {run_id}"):
        index_run(conn, mart, run_id)
    return rows


def _unpublished_partitions(conn: psycopg.Connection, mart: Mart, run_id: str) -> list[str]:
    """The partitions of a partitioned mart that belong to no run kept: neither `run_id`, nor the
    published run, nor the history, nor a run waiting in staged_runs."""
    keep = {run_id} | {
        r[0]
        for r in conn.execute(
            "select run_id from published.run_history where mart = %(mart)s"
            " union select run_id from published.current_runs where mart = %(mart)s"
            " union select run_id from published.staged_runs where mart = %(mart)s",
            {"mart": mart.name},
        )
    }
    kept = {mart.partition(r) for r in keep}
    partitions = conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " where i.inhparent = %s::regclass order by 1",
        (f"{config.PUBLISHED_SCHEMA}.{mart.name}",),
    )
    return [r[0] for r in partitions if r[0] not in kept]


def drop_unpublished(conn: psycopg.Connection, marts: Iterable[Mart], run_id: str) -> int:
    """Delete rows of earlier runs that were written but never staged (they failed before their
    audit); the current run, the published one, the kept history and every staged run stay: a
    publication may be switching a staged run on right now (publish_marts resolves its snapshot
    tasks before it switches), so staged runs a newer one superseded go only when a publication
    has passed them (`publish_snapshot`). Returns the rows (partitioned marts: the partitions)."""
    total = 0
    for mart in marts:
        if mart.partitioned:
            deleted = _drop_partitions(conn, mart, _unpublished_partitions(conn, mart, run_id))
        else:
            deleted = conn.execute(
                sql.SQL(
                    "delete from {} where run_id <> %(run_id)s"
                    " and run_id not in (select run_id from published.run_history where mart = %(mart)s)"
                    " and run_id not in (select run_id from published.current_runs where mart = %(mart)s)"
                    " and run_id not in (select run_id from published.staged_runs where mart = %(mart)s)"
                ).format(mart.table),
                {"run_id": run_id, "mart": mart.name},
            ).rowcount
        if deleted:
            log.info("published.%s: dropped %d rows (or partitions) of unpublished runs", mart.name, deleted)
        total += deleted
    return total


# --- audit ------------------------------------------------------------------------------------


def check_not_empty(conn: psycopg.Connection, mart: Mart, run_id: str) -> int:
    """Raise PublishCheckError if the run wrote no rows to the mart; returns the row count."""
    query = sql.SQL("select count(*) from {} where run_id = %s").format(mart.table)
    count = conn.execute(query, (run_id,)).fetchone()[0]
    if count == 0:
        raise PublishCheckError(
            f"marts.{mart.name}: run {run_id} produced no rows; the previous run stays published"
        )
    return count


def check_unique(conn: psycopg.Connection, mart: Mart, run_id: str) -> None:
    """Raise PublishCheckError if the mart's key is not unique within the run's rows."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in mart.key)
    query = sql.SQL(
        "select count(*) from (select 1 from {} where run_id = %s group by {} having count(*) > 1) d"
    ).format(mart.table, cols)
    dupes = conn.execute(query, (run_id,)).fetchone()[0]
    if dupes:
        raise PublishCheckError(
            f"marts.{mart.name}: {dupes} duplicate key(s) on ({', '.join(mart.key)}) in run {run_id}"
        )


def run_checks(conn: psycopg.Connection, mart: Mart, run_id: str) -> None:
    """Raise PublishCheckError naming the first declared check that returns rows."""
    for check in mart.checks:
        cur = conn.execute(check.query, {"run_id": run_id})
        rows = cur.fetchmany(5)
        if rows:
            shown = "; ".join(
                ", ".join(f"{c.name}={v}" for c, v in zip(cur.description, row, strict=True)) for row in rows
            )
            raise PublishCheckError(
                f"marts.{mart.name}: run {run_id} breaks the check '{check.rule}' ({shown});"
                " nothing published, the previous run stays"
            )


def audit(conn: psycopg.Connection, marts: Iterable[Mart], run_id: str) -> dict[str, int]:
    """Every check of every mart for the run: rows present, key unique, declared checks.
    Returns the row counts; raises PublishCheckError at the first failure."""
    counts = {}
    for mart in marts:
        counts[mart.name] = check_not_empty(conn, mart, run_id)
        check_unique(conn, mart, run_id)
        run_checks(conn, mart, run_id)
    return counts


# --- publish ----------------------------------------------------------------------------------


def activate(
    conn: psycopg.Connection, run_id: str, marts: Iterable[Mart], keep: int = config.RUNS_KEPT
) -> None:
    """Point the views of `marts` at `run_id`, in the caller's transaction, and drop the rows of
    runs beyond the newest `keep` published ones."""
    for mart in marts:
        conn.execute(
            "insert into published.current_runs (mart, run_id) values (%s, %s)"
            " on conflict (mart) do update set run_id = excluded.run_id, published_at = now()",
            (mart.name, run_id),
        )
        conn.execute(
            "insert into published.run_history (mart, run_id) values (%s, %s)"
            " on conflict (mart, run_id) do update set published_at = now()",
            (mart.name, run_id),
        )
        stale = [
            r[0]
            for r in conn.execute(
                "select run_id from published.run_history where mart = %s"
                " order by published_at desc offset %s",
                (mart.name, keep),
            )
        ]
        if stale:
            _drop_runs(conn, [mart], stale)
            conn.execute(
                "delete from published.run_history where mart = %s and run_id = any(%s)", (mart.name, stale)
            )
        if mart.partitioned:  # and the partitions an earlier drop had to leave to a BI reader
            left = conn.execute(
                "select partition_name from published.stale_partitions where mart = %s", (mart.name,)
            )
            _drop_partitions(conn, mart, [r[0] for r in left])
        log.info("marts.%s now shows run %s", mart.name, run_id)


def stage(
    conn: psycopg.Connection, marts: Iterable[Mart], run_id: str, dag_id: str, load_id: int | None
) -> dict[str, int]:
    """Audit the run's rows of `marts` and record them in published.staged_runs, waiting for the
    last DAG of the pipeline to switch them on (`publish_snapshot`). Returns the row counts."""
    marts = tuple(marts)
    counts = audit(conn, marts, run_id)
    current = conn.execute(
        "select count(*) from published.current_runs where run_id = %s and mart = any(%s)",
        (run_id, [m.name for m in marts]),
    ).fetchone()[0]
    if current == len(marts):  # a rerun after the pipeline published this run: nothing to stage
        log.info("run %s of %s is already published: %s", run_id, dag_id, counts)
        return counts
    for mart in marts:
        conn.execute(
            "insert into published.staged_runs (mart, run_id, dag_id, load_id) values (%s, %s, %s, %s)"
            " on conflict (mart, run_id) do update set dag_id = excluded.dag_id,"
            " load_id = excluded.load_id, staged_at = now()",
            (mart.name, run_id, dag_id, load_id),
        )
    log.info(
        "staged run %s of %s (load %s): %s; BI switches when the pipeline ends",
        run_id,
        dag_id,
        load_id,
        counts,
    )
    return counts


@dataclass(frozen=True)
class StagedRun:
    run_id: str
    dag_id: str
    load_id: int | None
    staged_at: object = None  # None: the published run (nothing newer staged)


def _newest_staged(conn: psycopg.Connection, marts: Iterable[Mart]) -> StagedRun | None:
    names = [m.name for m in marts]
    row = conn.execute(
        "select run_id, min(dag_id), max(load_id), max(staged_at) from published.staged_runs"
        " where mart = any(%s) group by run_id having count(distinct mart) = %s"
        " order by max(staged_at) desc limit 1",
        (names, len(names)),
    ).fetchone()
    return StagedRun(*row) if row else None


def newest_staged(conn: psycopg.Connection, marts: Iterable[Mart]) -> StagedRun:
    """The newest run staged for all of `marts` (one stage's marts). Raises PublishCheckError
    naming the marts when no run has staged them all."""
    marts = tuple(marts)
    staged = _newest_staged(conn, marts)
    if staged is None:
        raise PublishCheckError(
            f"no run has staged all of marts {', '.join(m.name for m in marts)}: run the stage that"
            " writes them first; nothing published, BI stays on the previous complete run"
        )
    return staged


def staged_or_current(conn: psycopg.Connection, marts: Iterable[Mart], dag_id: str) -> StagedRun | None:
    """The newest staged run of `marts`, else the published one (staged_at None; its load from the
    pipeline run that published it), else None."""
    marts = tuple(marts)
    staged = _newest_staged(conn, marts)
    if staged is not None:
        return staged
    row = conn.execute(
        "select c.run_id, (select p.load_id from audit.pipeline_runs p"
        " where c.run_id in (p.segments_run_id, p.recommendations_run_id)"
        " order by p.published_at desc nulls last limit 1)"
        " from published.current_runs c where c.mart = %s",
        (marts[0].name,),
    ).fetchone()
    return StagedRun(row[0], dag_id, row[1]) if row else None


def pipeline_run(conn: psycopg.Connection, marts: Iterable[Mart]) -> str | None:
    """The run of `marts` this pipeline builds on: the newest staged one (waiting to be switched
    on with the rest of the pipeline), else the published one, else None."""
    marts = tuple(marts)
    staged = _newest_staged(conn, marts)
    if staged is not None:
        return staged.run_id
    row = conn.execute(
        "select run_id from published.current_runs where mart = %s", (marts[0].name,)
    ).fetchone()
    return row[0] if row else None


def publish_snapshot(
    conn: psycopg.Connection, runs: dict[str, Iterable[Mart]], keep: int = config.RUNS_KEPT
) -> dict[str, str]:
    """Switch every mart of `runs` ({run_id: marts}) to its run, in the caller's transaction:
    the whole pipeline's marts change together or not at all. Each run must have staged its marts
    (audited), or already be the published run (a rerun switches it again: a no-op). Returns
    {mart: run_id}."""
    switched = {}
    for run_id, marts in runs.items():
        marts = tuple(marts)
        names = [m.name for m in marts]
        staged, current = conn.execute(
            "select (select count(*) from published.staged_runs where run_id = %(run)s and mart = any(%(names)s)),"
            " (select count(*) from published.current_runs where run_id = %(run)s and mart = any(%(names)s))",
            {"run": run_id, "names": names},
        ).fetchone()
        if len(names) not in (staged, current):
            raise PublishCheckError(
                f"run {run_id} has not staged all of marts {', '.join(names)} (audited {staged} of"
                f" {len(names)}); nothing published, BI stays on the previous complete run"
            )
        activate(conn, run_id, marts, keep=keep)
        # this run, and the staged runs it passes (staged before it, superseded), leave the queue;
        # a run staged after it waits for the next publication
        superseded = [
            r[0]
            for r in conn.execute(
                "delete from published.staged_runs as s where s.mart = any(%(names)s) and (s.run_id = %(run)s"
                " or s.staged_at < (select max(t.staged_at) from published.staged_runs as t"
                " where t.run_id = %(run)s and t.mart = any(%(names)s))) returning s.run_id",
                {"run": run_id, "names": names},
            )
            if r[0] != run_id
        ]
        if superseded:  # those runs only: a run of a stage still writing is not staged yet
            _drop_runs(conn, marts, sorted(set(superseded)))
            log.info("runs %s were superseded by %s: dropped", sorted(set(superseded)), run_id)
        switched.update(dict.fromkeys(names, run_id))
    log.info("published snapshot: %s", switched)
    return switched


def _drop_runs(conn: psycopg.Connection, marts: Iterable[Mart], run_ids: list[str]) -> None:
    """Drop the rows (partitioned marts: the partitions) of these runs, and only these."""
    for mart in marts:
        if mart.partitioned:
            _drop_partitions(conn, mart, [mart.partition(r) for r in run_ids])
        else:
            conn.execute(sql.SQL("delete from {} where run_id = any(%s)").format(mart.table), (run_ids,))


def publish(
    conn: psycopg.Connection, marts: Iterable[Mart], run_id: str, keep: int = config.RUNS_KEPT
) -> dict[str, int]:
    """Audit the run's rows of `marts`, then switch them all to the run, in the caller's
    transaction (commit = switch). Returns the row counts."""
    marts = tuple(marts)
    counts = audit(conn, marts, run_id)
    activate(conn, run_id, marts, keep=keep)
    log.info("published run %s: %s", run_id, counts)
    return counts
