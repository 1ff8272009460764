"""Faults on the real services: each recovers through retries or one clear, with nothing lost or
duplicated.

1. bad input: load_raw fails at once (no retries), the failure is in audit.task_failures with
   its runbook link; after the file is fixed, one clear of land_source (with downstream) recovers.
2. two triggers at once: max_active_runs=1 runs them one after the other; no duplicates.
3. the database server restarts in the middle of a COPY (a real restart of the embedded server:
   fast shutdown, down 3 s; every connection drops, Airflow's metadata database's included): the
   api-server lives through it (pool pre-ping), the scheduler and dag-processor usually do
   (max_db_retries=20 in tools.runtime; on-call restarts one that did not), and load_raw
   recovers through its retries.
4. the server is down for a minute: the scheduler and dag-processor give up; on-call starts them
   again (as `make airflow` does), the new scheduler resets the orphaned load_raw, which then
   recovers through its retries: no clear needed.
5. the warehouse database's connections are cut in the middle of a COPY (terminated, new ones
   refused for 2 s; the server and Airflow's metadata stay up): load_raw recovers by retry.
6. SIGKILL of the task process in the middle of the COPY: recovers through its retries.

3 to 6 COPY the full dataset (541,909 lines) so that the COPY lasts long enough to be hit (about
a second); the DAGs downstream of the ingestion are paused for them (they would clean and model
the full data), so they run last. 3 and 4 restart the whole server: run them only against a
server of your own (each checkout has one: set EMBEDDED_PG_PORT to a free port).
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
import time
import zipfile

import pytest

from include import config
from tests.e2e.conftest import E2E_WAREHOUSE_DB
from tests.e2e.support import checksums, faults

log = logging.getLogger(__name__)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FULL_DATA_LINES = 541_909
CONTENT_KEYS = ("run_id", "load_id")  # the same data loaded again: equal content, new ids
# Where the data came from (the upload's path) is not the data.
SOURCE_COLUMNS = {"marts.pipeline_runs": frozenset({"source"})}


def content(db) -> dict[str, checksums.TableChecksum]:
    return checksums.pipeline_snapshot(db, keys=CONTENT_KEYS, exclude=SOURCE_COLUMNS)


def assert_load_complete(db, run_id: str, expected_rows: int) -> int:
    """The DAG run's load is a success with exactly `expected_rows` raw rows, none twice."""
    load_id, status, rows_landed = db.execute(
        "select load_id, status, rows_landed from audit.ingest_runs where run_id = %s", (run_id,)
    ).fetchone()
    assert (status, rows_landed) == ("success", expected_rows)
    rows, distinct_lines = db.execute(
        "select count(*), count(distinct source_line_number) from raw.online_retail_lines where load_id = %s",
        (load_id,),
    ).fetchone()
    assert rows == distinct_lines == expected_rows, (
        f"load {load_id}: {rows} rows, {distinct_lines} distinct lines"
    )
    return load_id


def duplicate_raw_lines(db) -> int:
    """(load_id, source_line_number) pairs present more than once in raw, over every load kept."""
    return db.execute(
        "select count(*) from (select 1 from raw.online_retail_lines"
        " group by load_id, source_line_number having count(*) > 1) as twice"
    ).fetchone()[0]


def sample_rows() -> int:
    with zipfile.ZipFile(config.SAMPLE_SOURCE) as archive:
        member = next(n for n in archive.namelist() if n.lower().endswith(".csv"))
        return sum(1 for _ in csv.reader(io.TextIOWrapper(archive.open(member), encoding="latin-1"))) - 1


def write_zip_without_column(path, drop: str) -> None:
    """The sample with column `drop` removed: a real file an upstream system could send."""
    with zipfile.ZipFile(config.SAMPLE_SOURCE) as archive:
        member = next(n for n in archive.namelist() if n.lower().endswith(".csv"))
        rows = list(csv.reader(io.TextIOWrapper(archive.open(member), encoding="latin-1")))
    index = rows[0].index(drop)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([r[:index] + r[index + 1 :] for r in rows])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, out.getvalue().encode("latin-1"))


@pytest.fixture(scope="module")
def settled(api, pipeline_run, pipeline_dag_ids, baseline):
    """Start from the quiet, successful pipeline (after the rerun tests, if they ran)."""
    api.wait_until_quiet(pipeline_dag_ids)


def test_bad_input_fails_at_once_and_one_clear_recovers(api, settled, pipeline_dag_ids, db, tmp_path):
    before = content(db)
    source = tmp_path / "online_retail_upload.zip"
    write_zip_without_column(source, "Quantity")
    run = api.trigger("ingest_ecommerce", {"source": str(source)})
    run_id = run["dag_run_id"]
    assert api.wait_for_run("ingest_ecommerce", run_id)["state"] == "failed"
    load_raw = api.task_instance("ingest_ecommerce", run_id, "load_raw")
    assert load_raw["state"] == "failed"
    assert load_raw["try_number"] == 1, "bad input must not be retried"
    error, url = db.execute(
        "select error, runbook_url from audit.task_failures where run_id = %s and task_id = 'load_raw'",
        (run_id,),
    ).fetchone()
    assert "quantity" in error.lower() and source.name in error, error
    assert url.endswith("#ingest-ecommerce-load-raw")
    assert content(db) == before, "a failed load changed the warehouse"

    # The upstream system sends the corrected file to the same place; on-call clears once.
    shutil.copyfile(config.SAMPLE_SOURCE, source)
    known = {d: {r["dag_run_id"] for r in api.list_runs(d)} for d in pipeline_dag_ids}
    api.clear_tasks("ingest_ecommerce", run_id, ["land_source"], include_downstream=True)
    assert api.wait_for_run("ingest_ecommerce", run_id)["state"] == "success"
    load_id = assert_load_complete(db, run_id, sample_rows())
    for dag_id in pipeline_dag_ids[1:]:
        new = api.wait_for_new_run(dag_id, known[dag_id], timeout=300)
        assert api.wait_for_run(dag_id, new["dag_run_id"])["state"] == "success", dag_id
    api.wait_until_quiet(pipeline_dag_ids)
    assert db.execute("select count(distinct load_id) from staging.order_lines").fetchone()[0] == 1
    assert db.execute("select max(load_id) from staging.order_lines").fetchone()[0] == load_id
    changed = checksums.differences(before, content(db))
    assert not changed, f"the same data, loaded again after the fix, changed: {changed}"


def test_two_triggers_at_once_run_one_after_the_other(api, settled, pipeline_dag_ids, db):
    before = content(db)
    conf = {"source": str(config.SAMPLE_SOURCE)}
    first, second = api.trigger("ingest_ecommerce", conf), api.trigger("ingest_ecommerce", conf)
    ids = [first["dag_run_id"], second["dag_run_id"]]
    both_running = False
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        states = [api.get_run("ingest_ecommerce", i)["state"] for i in ids]
        both_running |= states == ["running", "running"]
        if all(s in {"success", "failed"} for s in states):
            break
        time.sleep(0.5)
    assert states == ["success", "success"]
    assert not both_running, "max_active_runs=1 was not honoured"
    for run_id in ids:
        assert_load_complete(db, run_id, sample_rows())
    api.wait_until_quiet(pipeline_dag_ids)
    for dag_id in pipeline_dag_ids:
        assert api.list_runs(dag_id)[-1]["state"] == "success", dag_id
    changed = checksums.differences(before, content(db))
    assert not changed, f"two loads of the same file changed: {changed}"


@pytest.fixture
def downstream_paused(api, pipeline_dag_ids):
    """Pause the DAGs after the ingestion (they would process the full data); left paused."""
    for dag_id in pipeline_dag_ids[1:]:
        api.set_paused(dag_id, True)


@pytest.fixture
def admin_conn(warehouse):
    import psycopg

    from tools import embedded

    with psycopg.connect(f"{embedded.base_url()}/postgres", autocommit=True) as conn:
        yield conn


@pytest.fixture
def own_server(airflow, warehouse):
    """The restart drills stop the whole server: skip them when anyone else uses it (other
    databases have clients), e.g. a server shared by several checkouts or developers."""
    import psycopg

    from tools import embedded, runtime

    metadata_db = airflow.env[runtime.METADATA_ENV].rsplit("/", 1)[1]
    with psycopg.connect(f"{embedded.base_url()}/postgres", autocommit=True) as conn:
        others = faults.foreign_clients(conn, {E2E_WAREHOUSE_DB, metadata_db})
    if others:
        pytest.skip(
            f"the embedded server on port {config.EMBEDDED_PG_PORT} is in use by others "
            f"(client connections per database: {others}); restarting it would cut them off. "
            "Run the restart drills with a server of your own: EMBEDDED_PG_PORT=<free port>"
        )
    # This process's own Airflow ORM session (left by the dag.test() runs of the other suites)
    # would hold a connection the restart kills, and fail noisily when the process exits.
    from airflow import settings

    settings.Session.remove()
    if settings.engine is not None:
        settings.engine.dispose()


def restart_server_during_copy(api, airflow, ecommerce_zip, down_seconds: float):
    """Trigger the full load, restart the server in the middle of its COPY; returns
    (run_id, copy, restart, fates: {service: "survived" | "exited"})."""
    import psycopg

    from tools import embedded

    run_id = api.trigger("ingest_ecommerce", {"source": str(ecommerce_zip)})["dag_run_id"]
    with psycopg.connect(f"{embedded.base_url()}/postgres", autocommit=True) as admin:
        copy = faults.wait_for_copy(admin, E2E_WAREHOUSE_DB, min_rows=1_000, poll=0.05)
    restart = faults.restart_server(down_seconds=down_seconds)
    fates = faults.service_fates(airflow, api, since=restart.started_at)
    log.warning("server restart at COPY row %d (%.1f s down): %s", copy.rows, restart.seconds, fates)
    return run_id, copy, restart, fates


def assert_full_load_recovered(api, warehouse, run_id: str, copy) -> None:
    """The run succeeded after at least one failed try of load_raw, with the file's rows once."""
    from include.db.connection import connect

    run = api.wait_for_run("ingest_ecommerce", run_id, timeout=900)
    load_raw = api.task_instance("ingest_ecommerce", run_id, "load_raw")
    assert run["state"] == "success", api.task_states("ingest_ecommerce", run_id)
    assert load_raw["try_number"] >= 2, f"the fault (COPY at {copy.rows} rows) did not hit load_raw"
    with connect(warehouse, autocommit=True) as db:  # every earlier connection was dropped
        assert_load_complete(db, run_id, FULL_DATA_LINES)
        assert duplicate_raw_lines(db) == 0


def test_database_server_restart_during_copy_recovers_by_retry(
    api, airflow, settled, downstream_paused, own_server, warehouse, ecommerce_zip, record_property
):
    run_id, copy, restart, fates = restart_server_during_copy(api, airflow, ecommerce_zip, down_seconds=3)
    record_property("service_fates", fates)
    assert fates["api-server"] == faults.SURVIVED, "the api-server (UI, REST API) must outlive a restart"
    # The scheduler and dag-processor usually ride it out (max_db_retries=20); a restart that hits
    # one in the middle of a query Airflow does not retry still ends it (or, seen once, hangs it).
    # On-call then starts it again, as here: the load must recover all the same.
    airflow.restart([s for s, fate in fates.items() if fate != faults.SURVIVED])
    assert_full_load_recovered(api, warehouse, run_id, copy)


def test_database_server_down_a_minute_on_call_restarts_services(
    api, airflow, settled, downstream_paused, own_server, warehouse, ecommerce_zip, record_property
):
    run_id, copy, restart, fates = restart_server_during_copy(api, airflow, ecommerce_zip, down_seconds=60)
    record_property("service_fates", fates)
    assert fates["api-server"] == faults.SURVIVED, "the api-server (UI, REST API) must outlive the outage"
    # After about 40 s of retries the scheduler and the dag-processor give up (Airflow's loops
    # treat a lost metadata database as fatal): on-call starts them again (`make airflow`).
    down = [s for s, fate in fates.items() if fate != faults.SURVIVED]
    assert "scheduler" in down, (
        f"the scheduler outlived {restart.seconds:.0f} s without its database: "
        "update docs/runbook.md#database-restart"
    )
    airflow.restart(down)
    assert not airflow.exited()
    # The dead scheduler's load_raw is orphaned (its state report failed during the outage);
    # the new scheduler resets it, and the retry loads the file: no clear needed.
    assert_full_load_recovered(api, warehouse, run_id, copy)


def test_warehouse_connections_cut_during_copy_recovers_by_retry(
    api, settled, downstream_paused, admin_conn, warehouse, ecommerce_zip
):
    """One database only (the server, Airflow's metadata and other databases stay up): its
    connections are terminated and new ones refused for 2 s, in the middle of the COPY."""
    run_id = api.trigger("ingest_ecommerce", {"source": str(ecommerce_zip)})["dag_run_id"]
    copy = faults.wait_for_copy(admin_conn, E2E_WAREHOUSE_DB, min_rows=1_000, poll=0.05)
    try:
        assert faults.block_database(admin_conn, E2E_WAREHOUSE_DB) >= 1
        time.sleep(2)
    finally:
        faults.unblock_database(admin_conn, E2E_WAREHOUSE_DB)
    assert_full_load_recovered(api, warehouse, run_id, copy)


def test_sigkill_during_copy_recovers_by_retry(
    api, settled, downstream_paused, admin_conn, db, ecommerce_zip
):
    run_id = api.trigger("ingest_ecommerce", {"source": str(ecommerce_zip)})["dag_run_id"]
    copy = faults.wait_for_copy(admin_conn, E2E_WAREHOUSE_DB, min_rows=1_000, poll=0.05)
    faults.sigkill(copy.client_pid)
    run = api.wait_for_run("ingest_ecommerce", run_id, timeout=900)
    load_raw = api.task_instance("ingest_ecommerce", run_id, "load_raw")
    assert run["state"] == "success", api.task_states("ingest_ecommerce", run_id)
    assert load_raw["try_number"] >= 2, f"the SIGKILL (COPY at {copy.rows} rows) did not hit load_raw"
    assert_load_complete(db, run_id, FULL_DATA_LINES)
    # The killed attempt's backend is gone: no COPY or lock left behind in the warehouse.
    assert faults.running_copies(admin_conn, E2E_WAREHOUSE_DB) == []
