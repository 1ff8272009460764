"""Test set-up: a real PostgreSQL (the embedded server), a warehouse database of the tests'
own (`dwh_test`, recreated each session), and Airflow's environment, set before Airflow loads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from include import config
from tools import runtime

os.environ.setdefault("RETRY_DELAY_SECONDS", "1")  # retries stay on, but quick
TEST_WAREHOUSE_DB = os.environ.get("TEST_WAREHOUSE_DB", "dwh_test")
runtime.configure_environment(warehouse_db=TEST_WAREHOUSE_DB)

SHARED_DATASETS = config.PROJECT_ROOT.parent / "shared" / "datasets"
ECOMMERCE_ZIP = SHARED_DATASETS / "ecommerce-data.zip"
PERSONALITY_ZIP = SHARED_DATASETS / "customer-personality-analysis.zip"


@pytest.fixture(scope="session")
def warehouse() -> str:
    """A fresh, migrated test warehouse (and Airflow's metadata database); returns its URI. Not
    automatic: the tests that use a database request it (tests/integration and tests/e2e do,
    through their conftest), so DAG and unit tests run without a server."""
    from include.db import connection

    if runtime.uses_embedded_server():
        from tools import embedded

        base = embedded.ensure_running()
        import psycopg
        from psycopg import sql

        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(TEST_WAREHOUSE_DB))
            )
    runtime.prepare(TEST_WAREHOUSE_DB)
    return connection.warehouse_uri()


@pytest.fixture
def db(warehouse):
    """A psycopg connection to the test warehouse (autocommit)."""
    from include.db.connection import connect

    with connect(warehouse, autocommit=True) as conn:
        yield conn


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared datasets live in ../shared/datasets beside the checkout")
    return path


@pytest.fixture
def ecommerce_zip() -> Path:
    return require(ECOMMERCE_ZIP)


@pytest.fixture
def personality_zip() -> Path:
    return require(PERSONALITY_ZIP)


@pytest.fixture
def dag_runner(warehouse):
    return runtime.run_dag
