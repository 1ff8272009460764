"""The warehouse connection, resolved by Airflow (URI and JSON forms of AIRFLOW_CONN_POSTGRES_DWH),
becomes libpq parameters with its extras kept and any password intact. Each result is parsed back
by libpq itself (psycopg's conninfo parser reads both conninfo strings and URIs) and compared."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from psycopg.conninfo import conninfo_to_dict

from include import config
from include.db import connection

pytestmark = pytest.mark.unit

# Every character that means something in a URL or a conninfo string.
ODD_PASSWORD = "p@ss/w#1 :?&=%+'\"\\ é"

JSON_CONN = {
    "conn_type": "postgres",
    "host": "db.example.com",
    "port": 6543,
    "login": "etl user",
    "password": ODD_PASSWORD,
    "schema": "dwh",
    "extra": {
        "sslmode": "require",
        "application_name": "ecommerce pipeline",
        "connect_timeout": 7,
        "keepalives": True,
        "cursor": "dictcursor",  # a PostgresHook option, not a libpq one: dropped
    },
}
EXPECTED = {
    "host": "db.example.com",
    "port": "6543",
    "dbname": "dwh",
    "user": "etl user",
    "password": ODD_PASSWORD,
    "sslmode": "require",
    "application_name": "ecommerce pipeline",
    "connect_timeout": "7",
    "keepalives": "1",
}


@pytest.fixture
def dwh_conn(monkeypatch):
    """Set AIRFLOW_CONN_POSTGRES_DWH for one test (the resolution is cached per value)."""

    def set_value(value: str) -> connection.WarehouseParams:
        monkeypatch.setenv(config.DWH_CONN_ENV, value)
        return connection.warehouse_params()

    return set_value


def test_json_connection_keeps_extras_and_the_password(dwh_conn):
    params = dwh_conn(json.dumps(JSON_CONN))
    assert params.source == config.DWH_CONN_ENV
    assert conninfo_to_dict(params.conninfo()) == EXPECTED
    assert conninfo_to_dict(params.uri()) == EXPECTED  # libpq reads the URI back to the same


def test_the_uri_is_percent_encoded_part_by_part(dwh_conn):
    uri = dwh_conn(json.dumps(JSON_CONN)).uri()
    parts = urlsplit(uri)
    assert parts.scheme == "postgresql"
    assert (parts.hostname, parts.port, parts.path) == ("db.example.com", 6543, "/dwh")
    assert unquote(parts.username) == "etl user" and unquote(parts.password) == ODD_PASSWORD
    assert dict(parse_qsl(parts.query)) == {
        "sslmode": "require",
        "application_name": "ecommerce pipeline",
        "connect_timeout": "7",
        "keepalives": "1",
    }
    assert ODD_PASSWORD not in connection.redact(uri) and ":***@db.example.com" in connection.redact(uri)


def test_uri_form_with_an_encoded_password_and_extras(dwh_conn):
    params = dwh_conn(
        "postgresql://etl:p%40ss%2Fw%231@db.example.com:5433/dwh?sslmode=require&application_name=pipeline"
    )
    assert conninfo_to_dict(params.conninfo()) == {
        "host": "db.example.com",
        "port": "5433",
        "dbname": "dwh",
        "user": "etl",
        "password": "p@ss/w#1",
        "sslmode": "require",
        "application_name": "pipeline",
    }


def test_sqlalchemy_url_carries_the_same_connection(dwh_conn):
    from sqlalchemy.engine import make_url

    dwh_conn(json.dumps(JSON_CONN))
    url = make_url(connection.sqlalchemy_url())
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "etl user",
        ODD_PASSWORD,
        "db.example.com",
        6543,
        "dwh",
    )
    assert url.query["sslmode"] == "require" and url.query["application_name"] == "ecommerce pipeline"


def test_a_non_libpq_extra_is_named(dwh_conn):
    params = dwh_conn(json.dumps({**JSON_CONN, "extra": {"ssl_mode": "require"}}))
    with pytest.raises(ValueError, match=r'AIRFLOW_CONN_POSTGRES_DWH.*invalid connection option "ssl_mode"'):
        params.conninfo()


def test_without_any_connection_the_embedded_server_is_used(monkeypatch):
    monkeypatch.delenv(config.DWH_CONN_ENV, raising=False)
    params = connection.warehouse_params()
    assert params == connection.embedded_params()
    assert conninfo_to_dict(params.conninfo()) == {
        "host": config.EMBEDDED_PG_HOST,
        "port": str(config.EMBEDDED_PG_PORT),
        "dbname": config.WAREHOUSE_DB,
        "user": config.EMBEDDED_PG_USER,
    }
