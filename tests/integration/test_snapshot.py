"""One consistent snapshot for BI: the marts of every stage switch together when the whole
pipeline for a load has succeeded. A stage that succeeds while a later one has not leaves BI on
the previous complete run, its own rows inspectable by run id, and marts.pipeline_runs says
which run BI sees and which are pending."""

from __future__ import annotations

import pytest

from include import config
from include.publish import marts as publish

pytestmark = pytest.mark.integration

SEGMENT_MARTS = [m.name for m in publish.SEGMENT_MARTS["transactions"]]
RECOMMENDATION_MARTS = [m.name for m in publish.RECOMMENDATION_MARTS]
TREND_MARTS = [m.name for m in publish.TREND_MARTS]


def _pointers(db) -> dict[str, str]:
    return dict(db.execute("select mart, run_id from published.current_runs"))


def _run_ids(db, mart: str) -> set[str]:
    from psycopg import sql

    query = sql.SQL("select distinct run_id from {}").format(sql.Identifier("marts", mart))
    return {r[0] for r in db.execute(query)}


def _current_pipeline_run(db) -> tuple:
    return db.execute(
        "select run_id, segments_run_id, recommendations_run_id, status from marts.pipeline_runs"
        " where is_current"
    ).fetchall()


def test_the_whole_pipeline_switches_together_and_a_missing_stage_keeps_bi_on_the_last_run(dag_runner, db):
    assert dag_runner("ingest_ecommerce", {"source": str(config.SAMPLE_SOURCE)}).state == "success"
    assert dag_runner("validate_and_clean", {}).state == "success"
    segments = dag_runner("segment_customers", {})
    assert segments.state == "success"
    before = _pointers(db)
    # staged, not visible: BI still sees what it saw before (here: maybe nothing yet)
    assert all(before.get(m) != segments.run_id for m in SEGMENT_MARTS)
    pending = db.execute(
        "select status from marts.pipeline_runs where run_id = %s", (segments.run_id,)
    ).fetchone()
    assert pending and pending[0].startswith("pending: segment_customers")
    recommendations = dag_runner("recommend_products", {})
    assert recommendations.state == "success"
    assert all(_pointers(db).get(m) == before.get(m) for m in SEGMENT_MARTS + RECOMMENDATION_MARTS)
    published = dag_runner("publish_marts", {"export_hyper": False})
    assert published.state == "success"

    pointers = _pointers(db)
    assert {pointers[m] for m in SEGMENT_MARTS} == {segments.run_id}
    assert {pointers[m] for m in RECOMMENDATION_MARTS} == {recommendations.run_id}
    assert {pointers[m] for m in TREND_MARTS} == {published.run_id}
    for mart in SEGMENT_MARTS + RECOMMENDATION_MARTS + TREND_MARTS:
        assert _run_ids(db, mart) == {pointers[mart]}, mart
    assert _current_pipeline_run(db) == [
        (published.run_id, segments.run_id, recommendations.run_id, "published")
    ]
    assert db.execute("select count(*) from published.staged_runs").fetchone()[0] == 0

    # a new segmentation succeeds, the rest of the pipeline does not follow: publish_marts refuses
    # to publish a half snapshot and BI stays on the complete run above
    newer = dag_runner("segment_customers", {})
    assert newer.state == "success"
    failed = dag_runner("publish_marts", {"export_hyper": False})
    assert failed.state == "failed"
    assert _pointers(db) == pointers
    assert _current_pipeline_run(db) == [
        (published.run_id, segments.run_id, recommendations.run_id, "published")
    ]
    inspectable = db.execute(
        "select count(*) from published.customer_segments where run_id = %s", (newer.run_id,)
    ).fetchone()[0]
    assert inspectable == db.execute("select count(*) from marts.customer_segments").fetchone()[0]
    status = db.execute(
        "select status from marts.pipeline_runs where run_id = %s", (newer.run_id,)
    ).fetchone()
    assert status[0].startswith("pending: segment_customers")

    # the rest of the pipeline for the load: everything switches at once
    again = dag_runner("recommend_products", {})
    assert again.state == "success"
    final = dag_runner("publish_marts", {"export_hyper": False})
    assert final.state == "success"
    pointers = _pointers(db)
    assert {pointers[m] for m in SEGMENT_MARTS} == {newer.run_id}
    assert {pointers[m] for m in RECOMMENDATION_MARTS} == {again.run_id}
    assert _current_pipeline_run(db) == [(final.run_id, newer.run_id, again.run_id, "published")]
    assert (
        db.execute(
            "select count(*) from marts.pipeline_runs where run_id = %s and not is_current",
            (published.run_id,),
        ).fetchone()[0]
        == 1
    )


def test_a_stage_run_finishing_while_a_publication_is_under_way_leaves_it_its_runs(dag_runner, db):
    """Two loads in a row: publish_marts has resolved the first load's runs when the next
    segmentation stages. The publication still switches the runs it resolved (their staged rows
    are not dropped under it), the newer run waits staged, and the next publication takes it and
    drops what it superseded."""
    from include.tasks import publish_marts

    assert dag_runner("ingest_ecommerce", {"source": str(config.SAMPLE_SOURCE)}).state == "success"
    assert dag_runner("validate_and_clean", {}).state == "success"
    segments = dag_runner("segment_customers", {})
    recommendations = dag_runner("recommend_products", {})
    assert (segments.state, recommendations.state) == ("success", "success")
    snapshot = publish_marts.resolve_snapshot()
    assert (snapshot["segments_run_id"], snapshot["recommendations_run_id"]) == (
        segments.run_id,
        recommendations.run_id,
    )

    newer = dag_runner("segment_customers", {})  # the next load's segmentation stages meanwhile
    assert newer.state == "success"
    run_id = "manual__publication_under_way"
    publish_marts.publish_trends(run_id, snapshot)
    publish_marts.publish_star_schema(run_id, snapshot)
    publish_marts.record_pipeline_run(run_id, snapshot)
    publish_marts.publish_snapshot(run_id, snapshot)
    pointers = _pointers(db)
    assert {pointers[m] for m in SEGMENT_MARTS} == {segments.run_id}
    assert {pointers[m] for m in RECOMMENDATION_MARTS} == {recommendations.run_id}
    assert _current_pipeline_run(db) == [(run_id, segments.run_id, recommendations.run_id, "published")]
    waiting = db.execute(
        "select status from marts.pipeline_runs where run_id = %s", (newer.run_id,)
    ).fetchone()
    assert waiting and waiting[0].startswith("pending: segment_customers")

    again = dag_runner("recommend_products", {})
    final = dag_runner("publish_marts", {"export_hyper": False})
    assert (again.state, final.state) == ("success", "success")
    pointers = _pointers(db)
    assert {pointers[m] for m in SEGMENT_MARTS} == {newer.run_id}
    assert db.execute("select count(*) from published.staged_runs").fetchone()[0] == 0
    statuses = dict(db.execute("select run_id, status from marts.pipeline_runs"))
    assert statuses[run_id] == statuses[final.run_id] == "published"
    assert not any(s.startswith("pending") for s in statuses.values()), statuses
