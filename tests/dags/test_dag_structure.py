"""The task dependencies of every DAG, in one place: upstream task id -> downstream task ids.

A new edge, a lost edge or a new task fails here; change EXPECTED_EDGES with the DAG file."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.dags

EXPECTED_EDGES: dict[str, set[tuple[str, str]]] = {
    "ingest_ecommerce": {
        ("prepare_warehouse", "load_raw"),
        ("land_source", "load_raw"),
        ("load_raw", "prune_raw_loads"),
    },
    "validate_and_clean": {
        ("resolve_load", "validate_raw"),
        ("resolve_load", "clean"),
        ("resolve_load", "validate_staging"),
        ("validate_raw", "clean"),
        ("clean", "validate_staging"),
    },
    "segment_customers": {
        ("plan_features", "build_features"),  # mapped: one task per customer block
        ("build_features", "fit_segments"),
        ("fit_segments", "publish_segments"),
        ("fit_segments", "announce_segments"),
        ("publish_segments", "announce_segments"),
    },
    "recommend_products": {
        ("prepare_interactions", "plan_product_blocks"),
        ("prepare_interactions", "plan_customer_blocks"),
        ("prepare_interactions", "build_pairs"),
        ("plan_product_blocks", "build_similarity"),  # mapped: one task per product block
        ("plan_customer_blocks", "build_recommendations"),  # mapped: one task per customer block
        ("build_similarity", "evaluate"),
        ("build_similarity", "publish_recommendations"),
        ("evaluate", "build_recommendations"),
        ("build_recommendations", "publish_recommendations"),
        ("build_pairs", "publish_recommendations"),
    },
    "publish_marts": {
        ("resolve_snapshot", "publish_trends"),
        ("resolve_snapshot", "publish_star_schema"),
        ("resolve_snapshot", "record_pipeline_run"),
        ("resolve_snapshot", "publish_snapshot"),
        ("publish_trends", "publish_star_schema"),
        ("publish_star_schema", "record_pipeline_run"),
        ("record_pipeline_run", "publish_snapshot"),
        ("publish_snapshot", "grant_bi_access"),
        ("grant_bi_access", "export_hyper"),
    },
}


def edges(dag) -> set[tuple[str, str]]:
    return {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}


def test_every_dag_is_in_expected_edges(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == sorted(EXPECTED_EDGES), (
        "a DAG was added or removed: update EXPECTED_EDGES"
    )


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_EDGES))
def test_tasks_run_in_order(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert edges(dag) == EXPECTED_EDGES[dag_id]
    in_edges = {task for edge in EXPECTED_EDGES[dag_id] for task in edge}
    assert {t.task_id for t in dag.tasks} == in_edges, f"{dag_id}: a task outside the expected edges"
