"""The warehouse schema, applied in one place: `apply_schema` (the `prepare_warehouse` setup
task of ingest_ecommerce, `make up`, the test fixtures, docker compose's airflow-init).

Every relation has one definition. The landed tables are the source layouts' own
(include/ingest/layouts.py declares each layout's header and raw table: `raw_table_ddl` turns
that into the table, every source column as text); every other relation has one DDL file, named
after it: `sql/raw/<relation>.sql` (the view over the two transaction layouts),
`sql/schema/<schema>/<relation>.sql` (tables with their indexes, views). Files are applied
schema by schema in the warehouse's layer order, by name within a schema, except that a file
naming another in a `-- requires: <file>` line comes after it; every statement is idempotent
(`if not exists`, `or replace`). Then the documentation BI sees, the COMMENT ON text of every
relation and column, is applied from its one place, `sql/schema/comments.yaml`.
"""

from __future__ import annotations

import hashlib
import logging
import re

import psycopg
import yaml
from psycopg import sql

from include import config
from include.db.connection import read_sql
from include.ingest.layouts import LAYOUTS, Layout

log = logging.getLogger(__name__)

SCHEMAS_FILE = "schema/schemas.sql"
COMMENTS_FILE = "schema/comments.yaml"
# After the landed tables (raw_table_ddl), the view that unions the two transaction layouts.
RAW_FILES = ("raw/transaction_lines.sql",)
# Layer order: a view in marts reads published, published rows reference nothing later.
SCHEMA_ORDER = (
    config.RAW_SCHEMA,
    config.STAGING_SCHEMA,
    config.ML_SCHEMA,
    config.AUDIT_SCHEMA,
    config.PUBLISHED_SCHEMA,
    config.MARTS_SCHEMA,
)

_SCHEMA_LOCK = 7_311_001  # advisory lock id: one migration at a time


_REQUIRES = re.compile(r"^-- requires: (\S+)$", re.MULTILINE)


def _in_dependency_order(names: list[str]) -> list[str]:
    """`names` in their order, each moved after the files it `-- requires:` (depth first)."""
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            raise ValueError(f"sql/{name}: circular '-- requires:' through {' -> '.join(path)}")
        for required in _REQUIRES.findall(read_sql(name)):
            visit(required, (*path, name))
        ordered.append(name)

    for name in names:
        visit(name, ())
    return ordered


def schema_files() -> list[str]:
    """Every DDL file under sql/, in the order it is applied."""
    files = [SCHEMAS_FILE]
    for schema in SCHEMA_ORDER:
        folder = config.SQL_DIR / "schema" / schema
        files += sorted(f"schema/{schema}/{p.name}" for p in folder.glob("*.sql"))
        if schema == config.RAW_SCHEMA:  # after the sequence the raw tables number lines with
            files += RAW_FILES
    return _in_dependency_order(files)


# A landed table's first columns: the load (set for the COPY's session by the loader) and the
# line of the file (numbered by the sequence, reset before each COPY).
_RAW_LOAD_COLUMNS = sql.SQL(
    "load_id integer not null default current_setting('ingest.load_id')::integer,"
    " source_line_number integer not null default nextval('raw.source_line_seq')"
)


def raw_table_ddl(layout: Layout) -> sql.Composed:
    """raw.<layout.raw_table>, the layout as landed: the load and line number, then every source
    column as text, in file order. Grain: one row per data line of the landed file per load
    (load_id -> audit.ingest_runs)."""
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in layout.raw_columns)
    return sql.SQL("create table if not exists {} ({}, {})").format(
        sql.Identifier(config.RAW_SCHEMA, layout.raw_table), _RAW_LOAD_COLUMNS, columns
    )


def schema_steps() -> list[tuple[str, sql.Composable]]:
    """(what, statement) of the whole schema, in the order applied: every DDL file, and the landed
    table of every layout before the raw files that read them."""
    steps: list[tuple[str, sql.Composable]] = []
    for name in schema_files():
        if name == RAW_FILES[0]:
            steps += [(f"layout {layout.name}", raw_table_ddl(layout)) for layout in LAYOUTS.values()]
        steps.append((f"sql/{name}", sql.SQL(read_sql(name))))
    return steps


def schema_digest() -> str:
    """sha256 of every schema step's name and text, in the order they are applied, and of the
    comments file."""
    digest = hashlib.sha256()
    for name, statement in (*schema_steps(), (COMMENTS_FILE, sql.SQL(read_sql(COMMENTS_FILE)))):
        digest.update(name.encode() + b"\0" + statement.as_string().encode() + b"\0")
    return digest.hexdigest()


def documented_relations() -> dict[str, dict]:
    """sql/schema/comments.yaml: `{"<schema>.<relation>": {"comment": ..., "columns": {...}}}`.
    Raises on an entry of another form or a text that YAML read as something else (quote it)."""
    entries = yaml.safe_load(read_sql(COMMENTS_FILE)) or {}
    for relation, entry in entries.items():
        if relation.count(".") != 1 or not isinstance(entry, dict) or set(entry) - {"comment", "columns"}:
            raise ValueError(
                f"sql/{COMMENTS_FILE}: {relation}: expected a '<schema>.<relation>' entry holding"
                " 'comment' (text) and/or 'columns' (<column>: text)"
            )
        texts = {"comment": entry["comment"]} if "comment" in entry else {}
        texts |= {f"column {column}": text for column, text in (entry.get("columns") or {}).items()}
        for what, text in texts.items():
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"sql/{COMMENTS_FILE}: {relation} {what}: {text!r} is not a text (quote it)")
    return entries


_COMMENT_KIND = {"r": "table", "p": "table", "v": "view", "m": "materialized view"}


def apply_comments(conn: psycopg.Connection, entries: dict[str, dict] | None = None) -> int:
    """COMMENT ON every relation and column of sql/schema/comments.yaml (or of `entries`, in its
    form); returns how many. A relation or column the database lacks raises, naming the file and
    the name."""
    applied = 0
    for relation, entry in (documented_relations() if entries is None else entries).items():
        schema, name = relation.split(".")
        found = conn.execute(
            "select c.oid, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relname = %s",
            (schema, name),
        ).fetchone()
        if found is None or found[1] not in _COMMENT_KIND:
            raise ValueError(f"sql/{COMMENTS_FILE}: {relation} is not a table or view of the warehouse")
        oid, relkind = found
        if "comment" in entry:
            conn.execute(
                sql.SQL("comment on {} {} is {}").format(
                    sql.SQL(_COMMENT_KIND[relkind]),
                    sql.Identifier(schema, name),
                    sql.Literal(entry["comment"]),
                )
            )
            applied += 1
        columns = entry.get("columns") or {}
        existing = {
            row[0]
            for row in conn.execute(
                "select attname from pg_attribute where attrelid = %s and attnum > 0 and not attisdropped",
                (oid,),
            )
        }
        missing = [column for column in columns if column not in existing]
        if missing:
            raise ValueError(f"sql/{COMMENTS_FILE}: {relation} has no column {', '.join(missing)}")
        for column, text in columns.items():
            conn.execute(
                sql.SQL("comment on column {} is {}").format(
                    sql.Identifier(schema, name, column), sql.Literal(text)
                )
            )
            applied += 1
    return applied


def _schema_is_current(conn: psycopg.Connection, digest: str) -> bool:
    if conn.execute("select to_regclass('audit.schema_migrations') is null").fetchone()[0]:
        return False
    return (
        conn.execute("select 1 from audit.schema_migrations where digest = %s", (digest,)).fetchone()
        is not None
    )


def apply_schema(conn: psycopg.Connection) -> bool:
    """Create schemas, tables and views that do not exist yet (idempotent; safe under concurrency).
    Returns True when the files were applied, False when they were already current.

    When the schema files are unchanged since they were last applied (their digest is in
    audit.schema_migrations) nothing runs: no DDL, so no lock a BI reader or another task could
    wait on or deadlock with. Otherwise every file is applied, in order, under an advisory lock.
    """
    digest = schema_digest()
    if _schema_is_current(conn, digest):
        return False
    conn.execute("select pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
    if _schema_is_current(conn, digest):  # applied by another session while we waited
        return False
    from include.publish.marts import move_into_partitions, set_aside_unpartitioned

    aside = set_aside_unpartitioned(conn)  # an earlier version's ordinary tables of partitioned marts
    steps = schema_steps()
    for name, statement in steps:
        try:
            conn.execute(statement)
        except psycopg.Error as err:
            err.add_note(f"while applying {name}")
            raise
    move_into_partitions(conn, aside)
    apply_comments(conn)
    conn.execute(
        "insert into audit.schema_migrations (digest) values (%s) on conflict (digest) do nothing", (digest,)
    )
    log.info("schema applied (digest %s, %d steps)", digest[:12], len(steps))
    return True


if __name__ == "__main__":  # docker compose's airflow-init: python -m include.db.schema
    from include.db.connection import connect

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with connect() as conn:
        applied = apply_schema(conn)
    print("schema applied" if applied else "schema already current")
