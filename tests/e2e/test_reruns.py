"""Reruns are safe: every task of every pipeline DAG, cleared after success through the REST API
(`clearTaskInstances`, the UI's Clear button) and rerun, leaves raw, staging, ml and the marts
exactly as they were (order-independent checksums) with no duplicate rows.

A task with an outlet (load_raw, validate_staging, ...) emits its asset again when it reruns, so
the downstream DAGs run again too: the warehouse must still be identical once they are done.
"""

from __future__ import annotations

import logging
import time

import pytest

from tests.e2e.support import checksums

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

log = logging.getLogger(__name__)


def task_order(api, dag_id: str) -> list[str]:
    """The DAG's task ids, upstream first (from the API's downstream_task_ids)."""
    tasks = {
        t["task_id"]: set(t["downstream_task_ids"])
        for t in api.request("GET", f"/dags/{dag_id}/tasks")["tasks"]
    }
    upstream = {t: {u for u, downs in tasks.items() if t in downs} for t in tasks}
    order: list[str] = []
    while len(order) < len(tasks):
        ready = sorted(t for t in tasks if t not in order and upstream[t] <= set(order))
        order.append(ready[0])
    return order


def map_indexes(api, dag_id: str, run_id: str, task_id: str) -> list[int]:
    """The task's map indexes in the run: [-1] for a plain task, one per block of a mapped one."""
    return sorted({ti["map_index"] for ti in api.task_instances(dag_id, run_id) if ti["task_id"] == task_id})


def rerun(api, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict:
    """Clear one task instance (one map index of a mapped task; downstream tasks untouched) and
    wait for its new try to end."""
    before = api.task_instance(dag_id, run_id, task_id, map_index)
    assert before["state"] == "success", f"{dag_id}.{task_id} is {before['state']} before its rerun"
    cleared = api.clear_tasks(dag_id, run_id, [task_id if map_index < 0 else (task_id, map_index)])
    assert [(t["task_id"], t["map_index"]) for t in cleared] == [(task_id, map_index)]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        ti = api.task_instance(dag_id, run_id, task_id, map_index)
        if ti["try_number"] > before["try_number"] and ti["state"] in {
            "success",
            "failed",
            "upstream_failed",
        }:
            return ti
        time.sleep(0.5)
    raise AssertionError(f"{dag_id}.{task_id} did not rerun within 600 s: {ti}")


def tasks_with_outlets() -> set[tuple[str, str]]:
    """(dag_id, task_id) of the tasks that emit an asset: their rerun starts the DAGs downstream."""
    from airflow.dag_processing.dagbag import DagBag

    from include import config

    bag = DagBag(dag_folder=str(config.PROJECT_ROOT / "dags"))
    return {(d.dag_id, t.task_id) for d in bag.dags.values() for t in d.tasks if t.outlets}


def test_every_task_rerun_leaves_the_warehouse_identical(api, pipeline_run, pipeline_dag_ids, baseline, db):
    assert baseline, "nothing to compare: the warehouse has no tables"
    cascading = tasks_with_outlets()
    reran = []
    for dag_id in pipeline_dag_ids:
        run_id = pipeline_run["runs"][dag_id]["dag_run_id"]
        api.wait_until_quiet(pipeline_dag_ids)  # the cascade of the previous DAG's reruns is done
        for task_id in task_order(api, dag_id):
            for map_index in map_indexes(api, dag_id, run_id, task_id):  # a mapped task: each block
                started = time.monotonic()
                ti = rerun(api, dag_id, run_id, task_id, map_index)
                assert ti["state"] == "success", (
                    f"{dag_id}.{task_id} failed on rerun (try {ti['try_number']})"
                )
                if (dag_id, task_id) in cascading:  # BI switches when the downstream pipeline has ended
                    api.wait_until_quiet(pipeline_dag_ids)
                changed = checksums.differences(baseline, checksums.pipeline_snapshot(db))
                assert not changed, f"rerunning {dag_id}.{task_id}[{map_index}] changed: {changed}"
                log.info(
                    "rerun of %s.%s[%d]: identical (%.1f s)",
                    dag_id,
                    task_id,
                    map_index,
                    time.monotonic() - started,
                )
            reran.append(f"{dag_id}.{task_id}")
        assert api.get_run(dag_id, run_id)["state"] == "success"

    # The downstream runs the reruns' asset events triggered are over: still identical.
    api.wait_until_quiet(pipeline_dag_ids)
    assert not checksums.differences(baseline, checksums.pipeline_snapshot(db))
    assert checksums.duplicate_keys(db, "raw.online_retail_lines", ["load_id", "source_line_number"]) == 0
    assert checksums.duplicate_keys(db, "staging.order_lines", ["load_id", "source_line_number"]) == 0
    expected = sum(len(task_order(api, d)) for d in pipeline_dag_ids)
    assert len(reran) == expected
