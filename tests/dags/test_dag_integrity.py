"""Every DAG imports and carries the house header; the Params, schedules and outlets of every
DAG (their task order: test_dag_structure.py)."""

from __future__ import annotations

import pytest

from include import config
from include.orchestration import TAGS

pytestmark = pytest.mark.dags


def _schedule(dag) -> list[str]:
    """The names of the assets the DAG is scheduled on, in order."""
    return [a.name for a in dag.timetable.asset_condition.objects]


def _outlets(dag, task_id: str) -> list[str]:
    return [o.name for o in dag.get_task(task_id).outlets]


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
    assert _outlets(dag, "load_raw") == ["raw_loads"]


def test_validate_and_clean_schedule_and_outlets(dagbag):
    dag = dagbag.dags["validate_and_clean"]
    assert _schedule(dag) == ["raw_transactions", "raw_customer_profiles"]
    assert _outlets(dag, "validate_staging") == ["staging_loads"]


def test_segment_customers_header(dagbag):
    dag = dagbag.dags["segment_customers"]
    assert sorted(dag.tags) == ["ecommerce", "ml"]
    assert dag.doc_md.strip().startswith("## Segment customers")
    assert dag.catchup is False and dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.owner == "data-engineering", task.task_id
        assert task.retries == config.TASK_RETRIES and task.retries >= 1, task.task_id
        assert task.execution_timeout is not None, task.task_id
        assert task.doc_md or task.doc or task.python_callable.__doc__, task.task_id


def test_segment_customers_schedule_outlets_and_params(dagbag):
    dag = dagbag.dags["segment_customers"]
    assert _schedule(dag) == ["staging_transactions", "staging_customer_profiles"]
    assert _outlets(dag, "announce_segments") == ["customer_segments"]
    assert all(not t.outlets for t in dag.tasks if t.task_id != "announce_segments")
    params = dag.params
    assert params["as_of_date"] is None and params["population"] is None
    assert params["algorithm"] == config.SEGMENT_ALGORITHM
    assert (params["k_min"], params["k_max"]) == (config.K_MIN, config.K_MAX)


def test_scheduled_on_segments_and_emits_recommendations(dagbag):
    dag = dagbag.dags["recommend_products"]
    assert _schedule(dag) == ["customer_segments"]
    assert _outlets(dag, "publish_recommendations") == ["product_recommendations"]
    others = [t for t in dag.tasks if t.task_id != "publish_recommendations"]
    assert all(not t.outlets for t in others), "only the publishing task announces the marts"


def test_recommend_products_params_and_header(dagbag):
    dag = dagbag.dags["recommend_products"]
    assert dag.params["top_k"] == config.TOP_K_SIMILAR
    assert dag.params["per_list"] == config.RECOMMENDATIONS_PER_LIST
    assert dag.params["test_window_days"] == config.TEST_WINDOW_DAYS
    assert set(dag.tags) == {"ecommerce", "ml"}
    assert dag.doc_md.startswith("\n## Recommend products") or dag.doc_md.lstrip().startswith("## Recommend")
    assert dag.max_active_runs == 1 and dag.catchup is False
