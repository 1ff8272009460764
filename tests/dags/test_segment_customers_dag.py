"""segment_customers: the house header, its Params, schedule and outlets (its task order:
test_dag_structure.py)."""

from __future__ import annotations

import pytest

from include import config

pytestmark = pytest.mark.dags


@pytest.fixture(scope="module")
def dag(dagbag):
    assert dagbag.import_errors == {}
    return dagbag.dags["segment_customers"]


def test_header(dag):
    assert sorted(dag.tags) == ["ecommerce", "ml"]
    assert dag.doc_md.strip().startswith("## Segment customers")
    assert dag.catchup is False and dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.owner == "data-engineering", task.task_id
        assert task.retries == config.TASK_RETRIES and task.retries >= 1, task.task_id
        assert task.execution_timeout is not None, task.task_id
        assert task.doc_md or task.doc or task.python_callable.__doc__, task.task_id


def test_schedule_outlets_and_params(dag):
    assert [a.name for a in dag.timetable.asset_condition.objects] == [
        "staging_transactions",
        "staging_customer_profiles",
    ]
    assert [o.name for o in dag.get_task("announce_segments").outlets] == ["customer_segments"]
    assert all(not t.outlets for t in dag.tasks if t.task_id != "announce_segments")
    params = dag.params
    assert params["as_of_date"] is None and params["population"] is None
    assert params["algorithm"] == config.SEGMENT_ALGORITHM
    assert (params["k_min"], params["k_max"]) == (config.K_MIN, config.K_MAX)
