"""The segment_customers DAG on the real database: one row per customer with a sale, all three
marts filled and consistent, identical segments on a rerun, saved models that score customers
again, bad parameters that fail and leave the published segments as they were, and the
customer_personality population segmented into its own marts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from psycopg import sql

from include import config

pytestmark = pytest.mark.integration

SEGMENT_COLUMNS = (
    "customer_id, segment_id, segment_name, kmeans_cluster, dbscan_cluster, is_outlier,"
    " round(pca_x::numeric, 6), round(pca_y::numeric, 6), as_of_date, recency_days, frequency, monetary"
)


def _segments_md5(db, mart: str = "customer_segments") -> str:
    query = sql.SQL(
        "select md5(string_agg(t::text, '|' order by t::text)) from (select {columns} from {mart}) t"
    ).format(columns=sql.SQL(SEGMENT_COLUMNS), mart=sql.Identifier("marts", mart))
    return db.execute(query).fetchone()[0]


def _current_run(db, mart: str) -> str | None:
    row = db.execute("select run_id from published.current_runs where mart = %s", (mart,)).fetchone()
    return row[0] if row else None


def _load(dag_runner, source) -> None:
    assert dag_runner("ingest_ecommerce", {"source": str(source)}).state == "success"
    assert dag_runner("validate_and_clean", {}).state == "success"


def _task_states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _assert_marts_consistent(db) -> int:
    """One row per customer with a sale; profiles and metrics agree with it. Returns the rows."""
    buyers = db.execute(
        "select count(distinct customer_id) from staging.order_lines where customer_id is not null"
    ).fetchone()[0]
    rows, distinct, segments = db.execute(
        "select count(*), count(distinct customer_id), count(distinct segment_id) from marts.customer_segments"
    ).fetchone()
    assert rows == distinct == buyers
    profiles = db.execute(
        "select count(*), sum(customers), round(sum(customer_share), 3), round(sum(revenue_share), 3),"
        " bool_and(top_products <> '' and top_countries <> '') from marts.segment_profiles"
    ).fetchone()
    assert profiles == (segments, rows, 1, 1, True)
    ids = [r[0] for r in db.execute("select segment_id from marts.segment_profiles order by 1")]
    assert ids == list(range(1, segments + 1))
    # segment 1 has the highest mean net revenue
    means = [r[0] for r in db.execute("select mean_monetary from marts.segment_profiles order by segment_id")]
    assert means == sorted(means, reverse=True)
    chosen = db.execute("select algorithm, k from marts.segmentation_metrics where is_chosen").fetchall()
    assert chosen == [("kmeans", segments)]
    per_algorithm = dict(db.execute("select algorithm, count(*) from marts.segmentation_metrics group by 1"))
    assert per_algorithm == {"kmeans": 9, "agglomerative": 9, "dbscan": 1}
    outliers = db.execute(
        "select count(*) filter (where is_outlier), count(*) filter (where dbscan_cluster = -1)"
        " from marts.customer_segments"
    ).fetchone()
    assert outliers[0] == outliers[1] < rows / 2
    return rows


def test_sample_segments_rerun_identical_and_models_score_again(dag_runner, db, publish_staged):
    _load(dag_runner, config.SAMPLE_SOURCE)
    run = dag_runner("segment_customers", {})
    assert run.state == "success"
    publish_staged("segments")
    states = _task_states(run)
    assert states["announce_segments"] == "success"
    _assert_marts_consistent(db)
    first_run = _current_run(db, "customer_segments")
    assert {_current_run(db, m) for m in ("segment_profiles", "segmentation_metrics")} == {first_run}
    before = _segments_md5(db)

    # models, manifest and plots of the run
    folder = Path(
        db.execute("select model_dir from ml.segmentation_runs where run_id = %s", (first_run,)).fetchone()[0]
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["versions"]["scikit-learn"] and manifest["chosen_k"] >= 2
    for name in ("elbow_silhouette", "k_distance", "pca_scatter", "profile_heatmap"):
        assert (folder / f"{name}.png").stat().st_size > 10_000

    # the saved models put the run's customers in the same segments
    from include.ml.features import TRANSACTIONS, load_features
    from include.ml.segment_models import score_new

    frame = load_features(db, TRANSACTIONS, first_run)
    scored = score_new(folder, frame).set_index("customer_id")
    published = dict(db.execute("select customer_id, segment_id from marts.customer_segments").fetchall())
    assert scored["segment_id"].to_dict() == published

    # a second run on the same data gives identical segments
    assert dag_runner("segment_customers", {}).state == "success"
    publish_staged("segments")
    assert _current_run(db, "customer_segments") != first_run
    assert _segments_md5(db) == before


def test_bad_parameters_fail_and_leave_the_segments_published(dag_runner, db, publish_staged):
    if _current_run(db, "customer_segments") is None:
        _load(dag_runner, config.SAMPLE_SOURCE)
        assert dag_runner("segment_customers", {}).state == "success"
        publish_staged("segments")
    pointers, before = _current_run(db, "customer_segments"), _segments_md5(db)
    run = dag_runner("segment_customers", {"k_min": 6, "k_max": 4})
    assert run.state == "failed"
    assert _task_states(run)["fit_segments"] == "failed"
    run = dag_runner("segment_customers", {"as_of_date": "2001-01-01"})
    assert run.state == "failed"  # the blocks write no row: the check before the fit says so
    assert _task_states(run)["build_features"] == "success"
    assert _task_states(run)["fit_segments"] == "failed"
    assert (_current_run(db, "customer_segments"), _segments_md5(db)) == (pointers, before)


def test_agglomerative_param_forms_the_segments(dag_runner, db, publish_staged):
    if _current_run(db, "customer_segments") is None:
        _load(dag_runner, config.SAMPLE_SOURCE)
    assert dag_runner("segment_customers", {"algorithm": "agglomerative", "k_max": 8}).state == "success"
    publish_staged("segments")
    chosen = db.execute("select algorithm, k from marts.segmentation_metrics where is_chosen").fetchall()
    assert len(chosen) == 1 and chosen[0][0] == "agglomerative"
    assert db.execute("select distinct algorithm from marts.segment_profiles").fetchall() == [
        ("agglomerative",)
    ]
    assert (
        db.execute("select count(distinct segment_id) from marts.customer_segments").fetchone()[0]
        == chosen[0][1]
    )
    assert (
        db.execute("select count(*) from marts.segmentation_metrics where algorithm = 'kmeans'").fetchone()[0]
        == 7
    )


def test_customer_personality_profiles_are_segmented(dag_runner, db, personality_zip):
    segments_before = _current_run(db, "customer_segments")
    _load(dag_runner, personality_zip)
    run = dag_runner("segment_customers", {"population": "customer_profiles"})
    assert run.state == "success"
    assert _task_states(run)["announce_segments"] == "skipped"  # customer_segments asset not emitted
    profiles = db.execute("select count(*) from staging.customer_profiles").fetchone()[0]
    rows, distinct, segments = db.execute(
        "select count(*), count(distinct customer_id), count(distinct segment_id) from marts.profile_segments"
    ).fetchone()
    assert rows == distinct == profiles
    assert db.execute(
        "select count(*), sum(customers), round(sum(spend_share), 3) from marts.profile_segment_profiles"
    ).fetchone() == (segments, rows, 1)
    assert (
        db.execute("select count(*) from marts.profile_segmentation_metrics where is_chosen").fetchone()[0]
        == 1
    )
    assert _current_run(db, "customer_segments") == segments_before  # the other population untouched


@pytest.mark.slow
def test_full_online_retail_segments(dag_runner, db, ecommerce_zip, publish_staged):
    _load(dag_runner, ecommerce_zip)
    assert dag_runner("segment_customers", {}).state == "success"
    publish_staged("segments")
    assert _assert_marts_consistent(db) == 4_334  # of 4,362 customers, 28 only ever returned
    before = _segments_md5(db)
    summary = db.execute(
        "select chosen_k, silhouette, dbscan_noise_share from ml.segmentation_runs"
        " where run_id = (select run_id from published.current_runs where mart = 'customer_segments')"
    ).fetchone()
    assert 3 <= summary[0] <= 8
    assert dag_runner("segment_customers", {}).state == "success"
    assert _segments_md5(db) == before
