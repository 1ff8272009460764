"""Connections to the warehouse, and running the SQL files of `sql/`.

The warehouse is the Airflow connection `config.DWH_CONN_ID`, resolved the Airflow way: the
Postgres provider's `PostgresHook` looks it up (an `AIRFLOW_CONN_POSTGRES_DWH` variable in URI or
JSON form, a secrets backend, or, inside a task, the metadata database), and its fields become
libpq parameters exactly as the hook's own `get_conn()` builds them: host, port, login,
password, schema (the database), plus every `extra` except the hook's own options (`cursor`,
`iam`, ...), so `sslmode`, `application_name`, `connect_timeout`, ... are kept. Passwords may hold
any character: they are quoted in the libpq conninfo and percent-encoded in URIs. With no
connection configured anywhere, the embedded server of local runs is the default.

`connect()` is the one helper tasks use; `warehouse_uri()` (psql, messages) and
`sqlalchemy_url()` (Great Expectations) give the same connection in URI form.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import make_conninfo

from include import config
from include.db.watch import watched

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarehouseParams:
    """libpq connection parameters of the warehouse (may hold a password: never log them)."""

    host: str | None = None
    port: int | None = None
    dbname: str | None = None
    user: str | None = None
    password: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)  # the connection's libpq extras
    source: str = "embedded server"  # where it came from, for messages

    def as_kwargs(self) -> dict[str, str]:
        """The parameters psycopg/libpq take as keywords (None left out)."""
        base = {"host": self.host, "port": self.port, "dbname": self.dbname}
        base |= {"user": self.user, "password": self.password}
        return {k: str(v) for k, v in {**base, **self.options}.items() if v is not None}

    def conninfo(self) -> str:
        """A libpq conninfo string (`host=... password='...'`), values quoted as libpq wants."""
        try:
            return make_conninfo("", **self.as_kwargs())
        except psycopg.ProgrammingError as err:  # an extra that is not a libpq keyword
            raise ValueError(f"warehouse connection ({self.source}): {err}") from None

    def uri(self) -> str:
        """The same as a postgresql:// URI, every part percent-encoded, extras as query."""
        auth = quote(self.user or "", safe="")
        if self.password is not None:
            auth += ":" + quote(self.password, safe="")
        netloc = (auth + "@" if auth else "") + quote(self.host or "", safe="")
        if self.port:
            netloc += f":{self.port}"
        query = urlencode({k: str(v) for k, v in self.options.items()}, quote_via=quote)
        return urlunsplit(("postgresql", netloc, "/" + quote(self.dbname or "", safe=""), query, ""))


def params_from_connection(conn: Any, source: str | None = None) -> WarehouseParams:
    """An Airflow `Connection` (any of its forms) as libpq parameters, the way PostgresHook.get_conn
    builds them: the standard fields, then every extra but the hook's own options."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    extras = {
        key: value if isinstance(value, str) else _extra_text(value)
        for key, value in (conn.extra_dejson or {}).items()
        if key not in PostgresHook.ignored_extra_options
    }
    return WarehouseParams(
        host=conn.host or None,
        port=int(conn.port) if conn.port else None,
        dbname=conn.schema or None,
        user=conn.login or None,
        password=conn.password if conn.password not in (None, "") else None,
        options=extras,
        source=source or f"Airflow connection {conn.conn_id}",
    )


def _extra_text(value: Any) -> str:
    """libpq takes text: booleans as 1/0 (keepalives=true), numbers as written."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def embedded_params(database: str | None = None) -> WarehouseParams:
    """The embedded server of local runs (tools/embedded.py starts it; this is its base_url())."""
    return WarehouseParams(
        host=config.EMBEDDED_PG_HOST,
        port=config.EMBEDDED_PG_PORT,
        dbname=database or config.WAREHOUSE_DB,
        user=config.EMBEDDED_PG_USER,
    )


def warehouse_params() -> WarehouseParams:
    """The warehouse connection: the Airflow connection DWH_CONN_ID, else the embedded server."""
    import os

    return _resolve(os.environ.get(config.DWH_CONN_ENV))


@cache
def _resolve(env_value: str | None) -> WarehouseParams:
    """Keyed by the AIRFLOW_CONN_ variable so a changed variable is seen; the lookup itself is
    Airflow's (environment, secrets backends, or the task's API), through the Postgres hook."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = PostgresHook(postgres_conn_id=config.DWH_CONN_ID).connection
    except AirflowNotFoundException:
        log.debug("no Airflow connection %s: using the embedded server", config.DWH_CONN_ID)
        return embedded_params()
    source = config.DWH_CONN_ENV if env_value else f"Airflow connection {config.DWH_CONN_ID}"
    return params_from_connection(conn, source)


def warehouse_uri() -> str:
    """The warehouse connection as a libpq URI (may hold a password: never log it)."""
    return warehouse_params().uri()


def redact(uri: str) -> str:
    """The URI with its password replaced, for messages and logs."""
    parts = urlsplit(uri)
    if parts.password:
        user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        netloc = f"{user}:***@{parts.netloc.rsplit('@', 1)[1]}"
        return urlunsplit((parts.scheme, netloc, *parts[2:]))
    return uri


def sqlalchemy_url(uri: str | None = None) -> str:
    """The same connection as a SQLAlchemy 2 URL on the psycopg (3) driver."""
    uri = uri or warehouse_uri()
    return "postgresql+psycopg://" + uri.split("://", 1)[1]


@contextmanager
def connect(uri: str | None = None, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A psycopg connection; committed on success, rolled back on error. `uri` may be a URI or a
    conninfo string; by default the warehouse connection."""
    target = uri or warehouse_params().conninfo()
    with psycopg.connect(target, autocommit=autocommit) as conn:
        yield conn


@cache
def read_sql(name: str) -> str:
    """The text of `sql/<name>` (e.g. 'schema/audit.sql')."""
    path = config.SQL_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} does not exist")
    return path.read_text(encoding="utf-8")


def execute_file(
    conn: psycopg.Connection, name: str, params: Mapping[str, Any] | None = None
) -> psycopg.Cursor:
    """Run `sql/<name>` with bound parameters (%(name)s placeholders); past
    config.SQL_PROGRESS_SECONDS it reports in the log while it runs (include/db/watch.py)."""
    with watched(conn, f"sql/{name}"):
        return conn.execute(read_sql(name), params)


def ensure_database(server_uri: str, database: str) -> None:
    """Create `database` on the server at `server_uri` (a URI without a database) if missing."""
    from psycopg import sql

    with psycopg.connect(f"{server_uri}/postgres", autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
            log.info("created database %s", database)
