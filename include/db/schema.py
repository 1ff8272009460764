"""The warehouse schema, applied in one place: `apply_schema` (the `prepare_warehouse` setup
task of ingest_ecommerce, `make up`, the test fixtures, docker compose's airflow-init).

Every relation has one DDL file, named after it: `sql/raw/<table>.sql` for the landed tables,
`sql/schema/<schema>/<relation>.sql` for the others (tables with their indexes, views). Files are
applied schema by schema in the warehouse's layer order, by name within a schema, except that a
file naming another in a `-- requires: <file>` line comes after it; every statement is
idempotent (`if not exists`, `or replace`). Then the documentation BI sees, the COMMENT ON text
of every relation and column, is applied from its one place, `sql/schema/comments.yaml`.
"""

from __future__ import annotations

import hashlib
import logging
import re

import psycopg
import yaml
from psycopg import sql

from include import config
from include.db.connection import execute_file, read_sql

log = logging.getLogger(__name__)

SCHEMAS_FILE = "schema/schemas.sql"
COMMENTS_FILE = "schema/comments.yaml"
# The landed tables, then the view that unions the two transaction layouts.
RAW_FILES = (
    "raw/online_retail_lines.sql",
    "raw/online_retail_ii_lines.sql",
    "raw/customer_personality_rows.sql",
    "raw/transaction_lines.sql",
)
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


def schema_digest() -> str:
    """sha256 of every schema file's name and text, in the order they are applied, and of the
    comments file."""
    digest = hashlib.sha256()
    for name in (*schema_files(), COMMENTS_FILE):
        digest.update(name.encode() + b"\0" + read_sql(name).encode() + b"\0")
    return digest.hexdigest()


def documented_relations() -> dict[str, dict]:
    """sql/schema/comments.yaml: `{"<schema>.<relation>": {"comment": ..., "columns": {...}}}`."""
    entries = yaml.safe_load(read_sql(COMMENTS_FILE)) or {}
    for relation, entry in entries.items():
        unknown = set(entry) - {"comment", "columns"}
        if relation.count(".") != 1 or unknown:
            raise ValueError(
                f"sql/{COMMENTS_FILE}: {relation}: expected a '<schema>.<relation>' entry with"
                f" 'comment' and 'columns', found {sorted(unknown) or relation!r}"
            )
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
    for name in schema_files():
        execute_file(conn, name)
    apply_comments(conn)
    conn.execute(
        "insert into audit.schema_migrations (digest) values (%s) on conflict (digest) do nothing", (digest,)
    )
    log.info("schema applied (digest %s, %d files)", digest[:12], len(schema_files()))
    return True


if __name__ == "__main__":  # docker compose's airflow-init: python -m include.db.schema
    from include.db.connection import connect

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with connect() as conn:
        applied = apply_schema(conn)
    print("schema applied" if applied else "schema already current")
