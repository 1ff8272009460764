"""A real login to the warehouse through a JSON AIRFLOW_CONN_POSTGRES_DWH whose password is full of
URL and conninfo characters. The embedded server trusts local logins, so for this one role the
test puts a scram-sha-256 rule first in pg_hba.conf: a wrong password is refused, the right one,
as the connection holds it, gets in (psycopg and SQLAlchemy both)."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from psycopg import sql

from include import config
from include.db import connection

pytestmark = pytest.mark.integration

ROLE = "pipeline_odd_password"
PASSWORD = "p@ss/w#1 :?&=%+'\"\\ é"


@pytest.fixture
def password_role(db):
    """ROLE with PASSWORD, which must authenticate by password from 127.0.0.1 (restored after)."""
    database = db.execute("select current_database()").fetchone()[0]
    hba_file = db.execute("show hba_file").fetchone()[0]
    try:
        original = open(hba_file, encoding="utf-8").read()  # restored below
    except PermissionError:
        pytest.skip(f"{hba_file} is not writable by the test user: cannot require a password")
    _drop_role(db)
    db.execute(
        sql.SQL("create role {} login password {}").format(sql.Identifier(ROLE), sql.Literal(PASSWORD))
    )
    rule = f"host {database} {ROLE} {config.EMBEDDED_PG_HOST}/32 scram-sha-256\n"
    with open(hba_file, "w", encoding="utf-8") as fh:
        fh.write(rule + original)
    db.execute("select pg_reload_conf()")
    try:
        yield database
    finally:
        with open(hba_file, "w", encoding="utf-8") as fh:
            fh.write(original)
        db.execute("select pg_reload_conf()")
        _drop_role(db)


def _drop_role(db) -> None:
    if db.execute("select 1 from pg_roles where rolname = %s", (ROLE,)).fetchone():
        db.execute(sql.SQL("drop owned by {}").format(sql.Identifier(ROLE)))
        db.execute(sql.SQL("drop role {}").format(sql.Identifier(ROLE)))


def _json_conn(database: str, password: str) -> str:
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": config.EMBEDDED_PG_HOST,
            "port": config.EMBEDDED_PG_PORT,
            "login": ROLE,
            "password": password,
            "schema": database,
            "extra": {"application_name": "odd password test", "connect_timeout": 5, "sslmode": "disable"},
        }
    )


def test_json_connection_with_an_odd_password_logs_in(password_role, monkeypatch):
    database = password_role
    monkeypatch.setenv(config.DWH_CONN_ENV, _json_conn(database, PASSWORD[:-1]))  # one character short
    deadline = time.monotonic() + 10
    while True:  # the reload is asynchronous: wait until the rule is in force
        try:
            with connection.connect():
                pass
        except psycopg.OperationalError as err:
            assert "password authentication failed" in str(err)
            break
        assert time.monotonic() < deadline, "pg_hba.conf rule not in force: a wrong password got in"
        time.sleep(0.2)

    monkeypatch.setenv(config.DWH_CONN_ENV, _json_conn(database, PASSWORD))
    with connection.connect() as conn:
        row = conn.execute(
            "select current_user, current_database(), current_setting('application_name'), system_user"
        ).fetchone()
    # system_user: how the server authenticated this session (NULL under trust).
    assert row == (ROLE, database, "odd password test", f"scram-sha-256:{ROLE}")

    import sqlalchemy

    engine = sqlalchemy.create_engine(connection.sqlalchemy_url())
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select current_user")).scalar() == ROLE
    finally:
        engine.dispose()
