"""The recommend_products DAG: schedule, outlets, Params and header (its task order:
test_dag_structure.py)."""

from __future__ import annotations

import pytest

from include import config

pytestmark = pytest.mark.dags


@pytest.fixture(scope="module")
def dag(dagbag):
    assert dagbag.import_errors == {}
    return dagbag.dags["recommend_products"]


def test_scheduled_on_segments_and_emits_recommendations(dag):
    assert [a.name for a in dag.timetable.asset_condition.objects] == ["customer_segments"]
    assert [o.name for o in dag.get_task("publish_recommendations").outlets] == ["product_recommendations"]
    others = [t for t in dag.tasks if t.task_id != "publish_recommendations"]
    assert all(not t.outlets for t in others), "only the publishing task announces the marts"


def test_params_and_header(dag):
    assert dag.params["top_k"] == config.TOP_K_SIMILAR
    assert dag.params["per_list"] == config.RECOMMENDATIONS_PER_LIST
    assert dag.params["test_window_days"] == config.TEST_WINDOW_DAYS
    assert set(dag.tags) == {"ecommerce", "ml"}
    assert dag.doc_md.startswith("\n## Recommend products") or dag.doc_md.lstrip().startswith("## Recommend")
    assert dag.max_active_runs == 1 and dag.catchup is False
