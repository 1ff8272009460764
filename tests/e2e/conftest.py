"""End-to-end set-up: the real Airflow services (api-server, scheduler, dag-processor with the
LocalExecutor) on a free port, with an Airflow home, a metadata database and a warehouse of
their own; stopped at the end of the session whatever happens.

The pipeline runs once per session (`pipeline_run`): the later tests (screenshot, reruns,
faults) start from that successful run. Test modules run in the order of MODULE_ORDER.
"""

from __future__ import annotations

import logging
import os
import time

import pytest

from include import config
from tests.conftest import TEST_WAREHOUSE_DB
from tests.e2e.support import checksums, services

log = logging.getLogger(__name__)

MODULE_ORDER = ("test_pipeline", "test_reruns", "test_faults")
# The services write to a warehouse database of their own, created fresh for the session: the
# checksums compare what the services did, not what the other suites left in the test warehouse.
E2E_WAREHOUSE_DB = f"{TEST_WAREHOUSE_DB}_e2e"
RUN_TIMEOUT = float(os.environ.get("E2E_RUN_TIMEOUT", "900"))


def pytest_collection_modifyitems(session, config, items):
    """Pipeline first (it is the baseline), then reruns, then faults (they load other data)."""

    def rank(item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else -1

    e2e = [i for i in items if "tests/e2e/" in str(i.fspath)]
    if e2e:
        others = [i for i in items if i not in e2e]
        items[:] = others + sorted(e2e, key=rank)


@pytest.fixture(scope="session")
def warehouse(warehouse):
    """Overrides the suite-wide test warehouse for tests/e2e: a fresh database beside it, with
    the schema applied; returns its URI (the `db` fixture connects to it too)."""
    import psycopg
    from psycopg import sql

    from include.db.connection import connect
    from include.db.schema import apply_schema

    server = psycopg.conninfo.conninfo_to_dict(warehouse)
    with psycopg.connect(**{**server, "dbname": "postgres"}, autocommit=True) as admin:
        name = sql.Identifier(E2E_WAREHOUSE_DB)
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        admin.execute(sql.SQL("create database {}").format(name))
    uri = psycopg.conninfo.make_conninfo(warehouse, dbname=E2E_WAREHOUSE_DB)
    with connect(uri) as conn:
        apply_schema(conn)
    return uri


@pytest.fixture(scope="session")
def airflow(warehouse):
    """Running services; yields tests.e2e.support.services.Services. Stopped in the finaliser."""
    run_dir = config.LOCAL_DIR / "ops-e2e" / TEST_WAREHOUSE_DB
    metadata_db = f"airflow_{TEST_WAREHOUSE_DB}"
    port = services.free_port(config.AIRFLOW_API_PORT)
    env = services.service_env(run_dir, port, E2E_WAREHOUSE_DB, metadata_db)
    started = time.monotonic()
    services.recreate_metadata_db(env, metadata_db)
    running = services.start(run_dir, env)
    log.info(
        "Airflow services up on port %d in %.1f s (folder %s)", port, time.monotonic() - started, run_dir
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def api(airflow):
    client = airflow.client()
    client.wait_for_dags(services.pipeline_dags())  # every DAG of the chain parses
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def pipeline_dag_ids() -> list[str]:
    """The chain's DAGs present in dags/; E2E_DAGS=a,b,c restricts it to a prefix (e.g. while a
    later DAG is being written)."""
    dag_ids = services.pipeline_dags()
    if wanted := os.environ.get("E2E_DAGS"):
        dag_ids = [d for d in dag_ids if d in wanted.split(",")]
    return dag_ids


def run_pipeline(api, dag_ids: list[str], conf: dict) -> dict[str, dict]:
    """Trigger the first DAG through the REST API and follow the chain: every next DAG must get
    an asset-triggered run that succeeds. Returns {dag_id: finished run}."""
    known = {d: {r["dag_run_id"] for r in api.list_runs(d)} for d in dag_ids}
    first = api.trigger(dag_ids[0], conf)
    runs = {dag_ids[0]: api.wait_for_run(dag_ids[0], first["dag_run_id"], timeout=RUN_TIMEOUT)}
    for dag_id in dag_ids[1:]:
        previous = dag_ids[dag_ids.index(dag_id) - 1]
        assert runs[previous]["state"] == "success", (
            f"{previous} ended {runs[previous]['state']}: "
            f"{api.task_states(previous, runs[previous]['dag_run_id'])}"
        )
        new = api.wait_for_new_run(dag_id, known[dag_id], timeout=180)
        runs[dag_id] = api.wait_for_run(dag_id, new["dag_run_id"], timeout=RUN_TIMEOUT)
    last = dag_ids[-1]
    assert runs[last]["state"] == "success", f"{last} ended {runs[last]['state']}"
    return runs


@pytest.fixture(scope="session")
def pipeline_run(api, pipeline_dag_ids):
    """One run of the whole pipeline on the sample, triggered through the REST API;
    returns {"runs": {dag_id: run}, "seconds": float}."""
    started = time.monotonic()
    runs = run_pipeline(api, pipeline_dag_ids, {"source": str(config.SAMPLE_SOURCE)})
    api.wait_until_quiet(pipeline_dag_ids)
    seconds = time.monotonic() - started
    log.info("pipeline %s succeeded through the REST API in %.1f s", pipeline_dag_ids, seconds)
    return {"runs": runs, "seconds": seconds}


@pytest.fixture(scope="session")
def baseline(pipeline_run, warehouse):
    """Checksums of the warehouse right after the successful pipeline run."""
    from include.db.connection import connect

    with connect(warehouse, autocommit=True) as conn:
        return checksums.pipeline_snapshot(conn)
