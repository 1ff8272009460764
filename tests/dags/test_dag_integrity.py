"""Every DAG imports and carries the house header; the Params, schedules and outlets of the
ingest and validate DAGs (their task order: test_dag_structure.py)."""

from __future__ import annotations

import pytest

from include import config
from include.orchestration import TAGS

pytestmark = pytest.mark.dags


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    files = sorted(p.stem for p in (config.PROJECT_ROOT / "dags").glob("*.py"))
    assert sorted(dagbag.dag_ids) == files, "one DAG per file, file name = dag_id"


def test_dags_carry_the_house_header(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags and set(dag.tags) <= TAGS, dag_id
        assert dag.doc_md and dag.doc_md.strip().startswith("## "), dag_id
        assert dag.catchup is False and dag.max_active_runs == 1, dag_id
        for task in dag.tasks:
            assert task.owner == "data-engineering", (dag_id, task.task_id)
            assert task.retries >= 1, (dag_id, task.task_id)
            assert task.execution_timeout is not None, (dag_id, task.task_id)


def test_ingest_params_and_outlets(dagbag):
    dag = dagbag.dags["ingest_ecommerce"]
    assert dag.params["source"] == config.DEFAULT_KAGGLE_SLUG
    assert dag.params["layout"] == "auto"
    outlets = dag.get_task("load_raw").outlets
    assert [o.name for o in outlets] == ["raw_loads"]


def test_validate_and_clean_schedule_and_outlets(dagbag):
    dag = dagbag.dags["validate_and_clean"]
    assert [a.name for a in dag.timetable.asset_condition.objects] == [
        "raw_transactions",
        "raw_customer_profiles",
    ]
    assert [o.name for o in dag.get_task("validate_staging").outlets] == ["staging_loads"]
