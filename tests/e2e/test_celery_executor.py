"""The CeleryExecutor deployment of docker-compose.yaml, without Docker: Redis, api-server,
scheduler, dag-processor and two Celery workers on loopback, with the compose file's settings
(tests/e2e/support/celery_stack.py reads them from docker-compose.yaml).

One pipeline run through the REST API on the shipped sample, during which one worker is killed
in the middle of a task:

1. `recommend_products.evaluate` runs on one of the workers. A SHARE lock the test holds on
   `published.recommendation_metrics` (tests/e2e/support/lock_gate.py) stops it at its write,
   after its tuning and scoring: the task is running, inside an open transaction, for as long as
   the test wants, without a sleep or a switch in the product's code.
2. The test finds the task's process (the client of the waiting backend), checks it belongs to the
   worker whose hostname the task instance shows, and SIGKILLs that worker's whole process tree
   (a container killed: Celery's main process, its pool, the task supervisor, the task).
3. The lock is released. The scheduler finds the task without a heartbeat, marks the try failed
   and schedules the retry, which the other worker runs; the pipeline then finishes.
4. Nothing is lost or duplicated: the task's second try ran on the other worker's hostname, the
   first try on the killed one's; every raw, staging, ml, published and marts relation has the
   same checksum as the LocalExecutor run of the same input (tests/e2e/conftest.py's
   `baseline`); rows are conserved (raw = clean + returns + rejected) and no mart has a
   duplicate key. The services shared one JWT secret and config: the api-server accepts a task
   token signed with that secret and refuses one signed with another (what a service with a
   secret of its own gets: "Invalid auth token"), and no task token was rejected in the run.
"""

from __future__ import annotations

import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from include import config
from include.publish import marts as publish
from tests.conftest import TEST_WAREHOUSE_DB
from tests.e2e.conftest import RUN_TIMEOUT, run_pipeline
from tests.e2e.support import celery_stack, checksums
from tests.e2e.support.lock_gate import LockGate
from tests.e2e.test_pipeline import sample_data_lines

log = logging.getLogger(__name__)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELERY_WAREHOUSE_DB = f"{TEST_WAREHOUSE_DB}_celery"
CELERY_METADATA_DB = f"airflow_{TEST_WAREHOUSE_DB}_celery"
# The task whose worker is killed: the longest of the sample's run, and the one that writes the
# gated table. AFTER_TASK is the last task before it that writes the table (prepare_interactions
# drops unpublished rows): the gate closes once it is done.
TARGET_DAG, TARGET_TASK, AFTER_TASK = "recommend_products", "evaluate", "prepare_interactions"
GATE_TABLE = "published.recommendation_metrics"
TOKEN_ERRORS = ("Signature verification failed", "Invalid auth token")


@pytest.fixture(scope="module")
def stack(warehouse):
    """The running CeleryExecutor stack (the embedded server is up: `warehouse`)."""
    if celery_stack.redis_server() is None:
        pytest.skip("redis-server is not installed: `make redis` (as root) installs Debian's redis-server")
    running = celery_stack.start(
        config.LOCAL_DIR / "celery-e2e" / TEST_WAREHOUSE_DB, CELERY_METADATA_DB, CELERY_WAREHOUSE_DB
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def celery_api(stack, pipeline_dag_ids):
    client = stack.client()
    client.wait_for_dags(pipeline_dag_ids)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def celery_warehouse(warehouse) -> str:
    return psycopg.conninfo.make_conninfo(warehouse, dbname=CELERY_WAREHOUSE_DB)


def task_tries(api, dag_id: str, run_id: str, task_id: str) -> list[dict]:
    """Every try of a task instance (hostname, state, pid per try), oldest first."""
    answer = api.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries")
    return sorted(answer["task_instances"], key=lambda t: t["try_number"])


def execution_api_answer(stack, signing_key: str) -> int:
    """HTTP status of a task's call to the execution API (`GET /execution/variables/keys`) with
    a task token signed with `signing_key` (the claims the scheduler puts in one)."""
    import uuid

    import httpx
    import jwt

    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "aud": "urn:airflow.apache.org:task", "scope": "execution"}
    token = jwt.encode({**claims, "iat": now, "nbf": now, "exp": now + 300}, signing_key, algorithm="HS512")
    response = httpx.get(
        f"{stack.base_url}/execution/variables/keys", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    return response.status_code


def kill_worker_at_the_gate(stack, api, celery_warehouse: str, known_runs: set[str]) -> dict:
    """Close the gate once AFTER_TASK is done, wait for TARGET_TASK to block at it, SIGKILL the
    worker running it, open the gate. Returns what happened."""
    run = api.wait_for_new_run(TARGET_DAG, known_runs, timeout=RUN_TIMEOUT)
    run_id = run["dag_run_id"]
    api.wait_for_task(TARGET_DAG, run_id, AFTER_TASK, {"success"}, timeout=RUN_TIMEOUT, poll=0.2)
    with LockGate(celery_warehouse, GATE_TABLE) as gate:
        state = api.task_instance(TARGET_DAG, run_id, TARGET_TASK)["state"]
        assert state != "success", f"{TARGET_TASK} finished before the gate closed: make it close earlier"
        waiter = gate.waiter(timeout=300)
        ti = api.wait_for_task(TARGET_DAG, run_id, TARGET_TASK, {"running"}, timeout=60)
        victim = ti["hostname"]
        assert victim in stack.workers, f"{TARGET_TASK} runs on {victim!r}, not on a worker {stack.workers}"
        tree = {p.pid for p in celery_stack.process_tree(stack.pids[victim])}
        assert waiter.client_pid in tree, (
            f"the waiting connection's process {waiter.client_pid} is not below {victim} ({sorted(tree)})"
        )
        killed_at = datetime.now(UTC)
        killed = stack.kill(victim)
        assert not stack.is_running(victim)
    return {
        "run_id": run_id,
        "victim": victim,
        "task_pid": waiter.client_pid,
        "killed_pids": killed,
        "waiting_query": waiter.query[:120],
        "killed_at": killed_at,
    }


def test_pipeline_on_celery_survives_a_worker_killed_mid_task(
    stack, celery_api, celery_warehouse, pipeline_dag_ids, baseline, record_property
):
    # The api-server checks task tokens with the secret every service shares, and only with it.
    shared = {stack.envs[p]["AIRFLOW__API_AUTH__JWT_SECRET"] for p in stack.envs if p != "redis"}
    assert len(shared) == 1
    assert execution_api_answer(stack, next(iter(shared))) == 200
    assert execution_api_answer(stack, secrets.token_hex(32)) == 403  # "Invalid auth token"
    # The refusal is in the api-server's log, as on-call would see it; the check of the logs
    # after the run reads only what follows.
    deadline = time.monotonic() + 30
    while "Signature verification failed" not in stack.log_tail("airflow-apiserver", 20_000):
        assert time.monotonic() < deadline, "the api-server did not log the refused token"
        time.sleep(0.5)
    service_logs = {path: path.stat().st_size for path in stack.run_dir.joinpath("logs").glob("*.log")}

    started = time.monotonic()
    conf = {"source": str(config.SAMPLE_SOURCE)}
    known = {r["dag_run_id"] for r in celery_api.list_runs(TARGET_DAG)}
    follower = stack.client()  # the pipeline is followed from another thread, with its own client
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pipeline = pool.submit(run_pipeline, follower, pipeline_dag_ids, conf)
        kill = kill_worker_at_the_gate(stack, celery_api, celery_warehouse, known)
        runs = pipeline.result(timeout=RUN_TIMEOUT * len(pipeline_dag_ids))
    finally:
        # On a failure the follower may still wait for a run: it ends when the stack stops.
        pool.shutdown(wait=False, cancel_futures=True)
        follower.close()
    seconds = time.monotonic() - started

    # The killed worker's try failed for want of heartbeats; the retry ran on the other worker.
    survivor = next(w for w in stack.workers if w != kill["victim"])
    ti = celery_api.task_instance(TARGET_DAG, kill["run_id"], TARGET_TASK)
    tries = task_tries(celery_api, TARGET_DAG, kill["run_id"], TARGET_TASK)
    by_try = {t["try_number"]: (t["hostname"], t["state"]) for t in tries}
    assert (ti["state"], ti["try_number"], ti["hostname"]) == ("success", 2, survivor), by_try
    assert by_try[1][0] == kill["victim"] and by_try[1][1] in {"failed", "up_for_retry"}, by_try
    assert stack.is_running(survivor)

    # Every task of the run succeeded, each on one of the workers.
    hosts: dict[str, list[str]] = {}
    for dag_id, run in runs.items():
        for t in celery_api.task_instances(dag_id, run["dag_run_id"]):
            assert t["state"] == "success", f"{dag_id}.{t['task_id']} is {t['state']}"
            assert t["hostname"] in stack.workers, f"{dag_id}.{t['task_id']} ran on {t['hostname']}"
            hosts.setdefault(t["hostname"], []).append(f"{dag_id}.{t['task_id']}#{t['try_number']}")

    from include.db.connection import connect

    with connect(celery_warehouse, autocommit=True) as db:
        after = checksums.pipeline_snapshot(db)
        load_id, rows_landed = db.execute(
            "select load_id, rows_landed from audit.ingest_runs where status = 'success'"
        ).fetchone()
        raw, clean, returns, rejected = db.execute(
            "select (select count(*) from raw.online_retail_lines where load_id = %(l)s),"
            " (select count(*) from staging.order_lines where load_id = %(l)s),"
            " (select count(*) from staging.returns where load_id = %(l)s),"
            " (select count(*) from staging.rejected_lines where load_id = %(l)s)",
            {"l": load_id},
        ).fetchone()
        mart_rows = {}
        for mart in publish.MARTS.values():
            relation = f"{config.MARTS_SCHEMA}.{mart.name}"
            if relation in after and after[relation].rows:
                assert checksums.duplicate_keys(db, relation, list(mart.key)) == 0, relation
                count = sql.SQL("select count(*) from {}").format(
                    sql.Identifier(config.MARTS_SCHEMA, mart.name)
                )
                mart_rows[relation] = db.execute(count).fetchone()[0]

    # Nothing lost or duplicated: the same rows as the LocalExecutor run of the same input.
    assert rows_landed == raw == sample_data_lines()
    assert clean + returns + rejected == raw
    for relation, rows in mart_rows.items():
        assert rows == baseline[relation].rows, (
            f"{relation}: {rows} rows, LocalExecutor {baseline[relation].rows}"
        )
    changed = checksums.differences(baseline, after)
    assert not changed, f"CeleryExecutor and LocalExecutor runs differ: {changed}"

    # One JWT secret and one config for every service: no task token was rejected during the run
    # (the service logs since the probe above, the task logs on the shared logs volume).
    logs = {**service_logs, **dict.fromkeys(stack.places.volume("airflow-logs").rglob("*.log"), 0)}
    for path, offset in logs.items():
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        assert not [e for e in TOKEN_ERRORS if e in text], f"{path} shows a rejected token"

    retried = datetime.fromisoformat(tries[1]["start_date"]) - kill["killed_at"]
    summary = {
        "seconds": round(seconds, 1),
        "killed": {k: v for k, v in kill.items() if k != "killed_at"},
        "seconds_from_kill_to_retry": round(retried.total_seconds(), 1),
        "tries": by_try,
        "tasks_per_worker": {h: len(ts) for h, ts in hosts.items()},
        "relations_compared": len(after),
        "marts_rows": mart_rows,
        "rows": {"raw": raw, "clean": clean, "returns": returns, "rejected": rejected},
    }
    record_property("celery_run", summary)
    log.warning("CeleryExecutor run: %s; tasks by worker: %s", summary, hosts)
