"""Connections to the warehouse, and running the SQL files of `sql/`.

The warehouse is the Airflow connection `config.DWH_CONN_ID`. Outside a task (CLI, tests,
benchmarks) the same connection is read from its `AIRFLOW_CONN_...` environment variable, which
is where Airflow itself looks first; with neither, the embedded server is the default.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from include import config

log = logging.getLogger(__name__)


def _uri_from_env(value: str) -> str:
    """An AIRFLOW_CONN_* value is a URI or a JSON object; return a libpq URI."""
    value = value.strip()
    if not value.startswith("{"):
        return value
    data = json.loads(value)
    auth = data.get("login") or ""
    if data.get("password"):
        auth += ":" + data["password"]
    host = data.get("host") or "localhost"
    port = f":{data['port']}" if data.get("port") else ""
    db = data.get("schema") or ""
    return f"postgresql://{auth}{'@' if auth else ''}{host}{port}/{db}"


def warehouse_uri() -> str:
    """The warehouse connection as a libpq URI (may hold a password: never log it)."""
    value = os.environ.get(config.DWH_CONN_ENV)
    if value:
        return _normalise(_uri_from_env(value))
    try:  # inside an Airflow task: connections from the metadata DB or a secrets backend
        from airflow.sdk import BaseHook

        return _normalise(BaseHook.get_connection(config.DWH_CONN_ID).get_uri())
    except Exception as err:  # any lookup failure means "not configured"
        log.debug("no Airflow connection %s (%s): using embedded server", config.DWH_CONN_ID, err)
    # The embedded server of local runs (tools/embedded.py starts it; this is its base_url()).
    return (
        f"postgresql://{config.EMBEDDED_PG_USER}@{config.EMBEDDED_PG_HOST}:{config.EMBEDDED_PG_PORT}"
        f"/{config.WAREHOUSE_DB}"
    )


def _normalise(uri: str) -> str:
    parts = urlsplit(uri)
    scheme = "postgresql" if parts.scheme in {"postgres", "postgresql"} else parts.scheme
    return urlunsplit((scheme, *parts[1:]))


def redact(uri: str) -> str:
    """The URI with its password replaced, for messages and logs."""
    parts = urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, *parts[2:]))
    return uri


def sqlalchemy_url(uri: str | None = None) -> str:
    """The same connection as a SQLAlchemy 2 URL on the psycopg (3) driver."""
    uri = uri or warehouse_uri()
    return "postgresql+psycopg://" + uri.split("://", 1)[1]


@contextmanager
def connect(uri: str | None = None, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A psycopg connection; committed on success, rolled back on error."""
    with psycopg.connect(uri or warehouse_uri(), autocommit=autocommit) as conn:
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
    """Run `sql/<name>` with bound parameters (%(name)s placeholders)."""
    return conn.execute(read_sql(name), params)


def ensure_database(server_uri: str, database: str) -> None:
    """Create `database` on the server at `server_uri` (a URI without a database) if missing."""
    from psycopg import sql

    with psycopg.connect(f"{server_uri}/postgres", autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
            log.info("created database %s", database)
