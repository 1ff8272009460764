"""Faults on the real services: each recovers through retries or one clear, with nothing lost or
duplicated.

1. bad input: load_raw fails at once (no retries), the failure is in audit.task_failures with
   its runbook link; after the file is fixed, one clear of land_source (with downstream) recovers.
2. two triggers at once: max_active_runs=1 runs them one after the other; no duplicates.
3. the database goes away in the middle of a COPY (its connections terminated, new ones refused
   for a few seconds, as during a restart): load_raw recovers through its retries.
4. SIGKILL of the task process in the middle of the COPY: recovers through its retries.

3 and 4 COPY the full dataset (541,909 lines) so that the COPY lasts long enough to be hit;
the DAGs downstream of the ingestion are paused for them (they would clean and model the full
data), so they run last.
"""

from __future__ import annotations

import csv
import io
import shutil
import time
import zipfile

import pytest

from include import config
from include.ops import checksums, faults
from tests.e2e.conftest import E2E_WAREHOUSE_DB

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

    from include.db import embedded

    with psycopg.connect(f"{embedded.base_url()}/postgres", autocommit=True) as conn:
        yield conn


def test_database_restart_during_copy_recovers_by_retry(
    api, settled, downstream_paused, admin_conn, warehouse, ecommerce_zip
):
    from include.db.connection import connect

    run_id = api.trigger("ingest_ecommerce", {"source": str(ecommerce_zip)})["dag_run_id"]
    copy = faults.wait_for_copy(admin_conn, E2E_WAREHOUSE_DB, min_rows=50_000)
    try:
        assert faults.block_database(admin_conn, E2E_WAREHOUSE_DB) >= 1
        time.sleep(2)
    finally:
        faults.unblock_database(admin_conn, E2E_WAREHOUSE_DB)
    run = api.wait_for_run("ingest_ecommerce", run_id, timeout=900)
    load_raw = api.task_instance("ingest_ecommerce", run_id, "load_raw")
    assert run["state"] == "success", api.task_states("ingest_ecommerce", run_id)
    assert load_raw["try_number"] >= 2, f"the fault (COPY at {copy.rows} rows) did not hit load_raw"
    with connect(warehouse, autocommit=True) as db:  # every earlier connection was terminated
        assert_load_complete(db, run_id, FULL_DATA_LINES)


def test_sigkill_during_copy_recovers_by_retry(
    api, settled, downstream_paused, admin_conn, db, ecommerce_zip
):
    run_id = api.trigger("ingest_ecommerce", {"source": str(ecommerce_zip)})["dag_run_id"]
    copy = faults.wait_for_copy(admin_conn, E2E_WAREHOUSE_DB, min_rows=50_000)
    faults.sigkill(copy.client_pid)
    run = api.wait_for_run("ingest_ecommerce", run_id, timeout=900)
    load_raw = api.task_instance("ingest_ecommerce", run_id, "load_raw")
    assert run["state"] == "success", api.task_states("ingest_ecommerce", run_id)
    assert load_raw["try_number"] >= 2, f"the SIGKILL (COPY at {copy.rows} rows) did not hit load_raw"
    assert_load_complete(db, run_id, FULL_DATA_LINES)
    # The killed attempt's backend is gone: no COPY or lock left behind in the warehouse.
    assert faults.running_copies(admin_conn, E2E_WAREHOUSE_DB) == []
