"""Known answers of the segmentation functions on hand-made data: three blobs give k = 3, a far
point is a DBSCAN outlier, segment ids follow value and survive reruns, names match prototypes."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from include.ml import segmentation as seg

pytestmark = pytest.mark.unit

SEED = 42


def blobs(n_per_blob: int = 100, seed: int = 0) -> np.ndarray:
    """Three tight, well separated blobs in 4-D (centres 10 apart, sd 0.5)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0, 0], [10, 0, 0, 0], [0, 10, 0, 0]], dtype=float)
    return np.vstack([c + rng.normal(scale=0.5, size=(n_per_blob, 4)) for c in centres])


def test_find_elbow_hand_worked():
    # inertia 100, 30, 25, 22, 20, 19 for k = 2..7: normalised y = 1, .136, .074, .037, .012, 0;
    # chord 1 - x = 1, .8, .6, .4, .2, 0; chord - y is largest (.664) at k = 3
    assert seg.find_elbow([2, 3, 4, 5, 6, 7], [100, 30, 25, 22, 20, 19]) == 3


def test_three_blobs_give_k_3_by_elbow_and_silhouette():
    x = blobs()
    metrics, models = seg.sweep_kmeans(
        x, list(range(2, 9)), SEED, minibatch_above=10_000, silhouette_sample=10_000
    )
    assert list(metrics["k"]) == list(range(2, 9))
    assert metrics[["inertia", "silhouette", "davies_bouldin", "calinski_harabasz"]].notna().all().all()
    choice = seg.choose_k(metrics)
    assert (choice.k, choice.elbow_k, choice.best_silhouette_k, choice.agree) == (3, 3, 3, True)
    best = metrics.set_index("k")
    assert best["silhouette"].idxmax() == 3 and best["calinski_harabasz"].idxmax() == 3
    assert best["davies_bouldin"].idxmin() == 3


def test_minibatch_path_and_ward_also_find_3():
    x = blobs()
    metrics, models = seg.sweep_kmeans(x, [2, 3, 4, 5, 6], SEED, minibatch_above=100, silhouette_sample=150)
    assert type(models[3]).__name__ == "MiniBatchKMeans"
    assert seg.choose_k(metrics).k == 3
    ward, labels = seg.sweep_ward(x, [2, 3, 4, 5, 6], SEED, sample_size=120, silhouette_sample=150)
    assert seg.choose_k(ward).k == 3
    assert ward["fitted_on"].eq(120).all()  # Ward fitted on the sample, the rest by nearest centroid
    assert len(labels[3]) == len(x) and len(np.unique(labels[3])) == 3
    # each blob is one cluster
    assert all(len(np.unique(labels[3][i * 100 : (i + 1) * 100])) == 1 for i in range(3))


def test_choose_k_logs_a_disagreement(caplog):
    # elbow at 4 (hand-made inertia), best silhouette at 2: chosen = best silhouette in 3..5 = 5
    metrics = pd.DataFrame(
        {
            "k": [2, 3, 4, 5, 6, 7],
            "inertia": [100, 80, 30, 27, 25, 24],
            "silhouette": [0.60, 0.30, 0.35, 0.40, 0.20, 0.10],
        }
    )
    with caplog.at_level(logging.WARNING, logger="include.ml.segmentation"):
        choice = seg.choose_k(metrics)
    assert (choice.elbow_k, choice.best_silhouette_k, choice.k, choice.agree) == (4, 2, 5, False)
    assert "disagree" in caplog.text


def test_dbscan_flags_a_far_point_as_outlier():
    x = np.vstack([blobs(), [[40.0, 40.0, 40.0, 40.0]]])
    result = seg.dbscan_outliers(x, SEED, sample_size=10_000, silhouette_sample=10_000)
    assert result.min_samples == 8  # 2 x 4 features
    assert result.labels[-1] == -1
    assert result.n_clusters == 3
    assert result.noise_share < 0.05
    assert result.silhouette is not None and result.silhouette > 0.8
    assert result.eps == pytest.approx(result.k_distances[seg.knee_of_curve(result.k_distances)])


def test_dbscan_on_a_sample_assigns_the_rest_to_the_nearest_core():
    x = np.vstack([blobs(200), [[40.0, 40.0, 40.0, 40.0]]])
    result = seg.dbscan_outliers(x, SEED, sample_size=300, silhouette_sample=300)
    assert result.fitted_on == 300
    assert result.labels[-1] == -1
    assert result.n_clusters == 3
    # every blob maps to one cluster label, the same for sampled and assigned points
    for i in range(3):
        part = result.labels[i * 200 : (i + 1) * 200]
        assert (part[part != -1] == np.bincount(part[part != -1]).argmax()).all()
        assert (part == -1).mean() < 0.1


def test_dbscan_warns_on_a_single_cluster(caplog):
    x = np.random.default_rng(1).normal(size=(400, 3))
    with caplog.at_level(logging.WARNING, logger="include.ml.segmentation"):
        result = seg.dbscan_outliers(x, SEED, sample_size=10_000, silhouette_sample=10_000)
    assert result.n_clusters == 1
    assert result.warnings and "single cluster" in caplog.text
    assert result.silhouette is None


def test_knee_of_curve_hand_worked():
    # flat at 1, then 2, 10: the last flat point (index 7) is farthest below the chord
    assert seg.knee_of_curve(np.array([1, 1, 1, 1, 1, 1, 1, 1, 2, 10], dtype=float)) == 7


def test_stable_segment_ids_follow_value_not_labels():
    labels = np.array([0, 0, 1, 1, 2])
    value = np.array([1.0, 1.0, 10.0, 10.0, 5.0])
    assert seg.stable_segment_ids(labels, value) == {1: 1, 2: 2, 0: 3}
    # the same clusters under other labels get the same ids
    assert seg.stable_segment_ids(np.array([2, 2, 0, 0, 1]), value) == {0: 1, 1: 2, 2: 3}


def test_segment_is_deterministic_and_names_are_unique():
    x = blobs()
    frame = pd.DataFrame(
        {
            "monetary": np.r_[np.full(100, 50.0), np.full(100, 500.0), np.full(100, 5.0)],
            "recency_days": np.r_[np.full(100, 100.0), np.full(100, 5.0), np.full(100, 300.0)],
            "frequency": np.r_[np.full(100, 2.0), np.full(100, 20.0), np.full(100, 1.0)],
            "tenure_days": np.full(300, 200.0),
            "avg_basket_value": np.full(300, 30.0),
            "return_rate": np.zeros(300),
        }
    )
    naming = ("recency_days", "frequency", "monetary", "tenure_days", "avg_basket_value", "return_rate")
    args = (
        x,
        frame,
        "transactions",
        "monetary",
        naming,
        "kmeans",
        [2, 3, 4, 5],
        SEED,
        10_000,
        10_000,
        10_000,
        10_000,
    )
    first, second = seg.segment(*args), seg.segment(*args)
    assert first.choice.k == 3
    assert np.array_equal(first.segment_ids, second.segment_ids)
    assert first.segment_names == second.segment_names
    # segment 1 = highest monetary (blob 2), 3 = lowest (blob 3)
    assert set(first.segment_ids[100:200]) == {1} and set(first.segment_ids[200:]) == {3}
    assert first.segment_names[1] in {"Champions", "Loyal"}
    assert len(set(first.segment_names.values())) == 3
    metrics = first.metrics
    assert metrics.groupby("algorithm").size().to_dict() == {"agglomerative": 4, "dbscan": 1, "kmeans": 4}
    assert metrics["is_chosen"].sum() == 1
    assert metrics.loc[metrics["is_chosen"], "algorithm"].item() == "kmeans"
    assert first.pca_coords.shape == (300, 2) and 0.9 < first.pca_explained.sum() <= 1.0


def test_agglomerative_is_selectable():
    x = blobs()
    frame = pd.DataFrame({"v": np.r_[np.full(100, 1.0), np.full(100, 3.0), np.full(100, 2.0)]})
    frame = frame.assign(
        recency_days=1.0,
        frequency=1.0,
        monetary=frame["v"],
        tenure_days=1.0,
        avg_basket_value=1.0,
        return_rate=0.0,
    )
    naming = ("recency_days", "frequency", "monetary", "tenure_days", "avg_basket_value", "return_rate")
    result = seg.segment(
        x,
        frame,
        "transactions",
        "v",
        naming,
        "agglomerative",
        [2, 3, 4],
        SEED,
        10_000,
        10_000,
        10_000,
        10_000,
    )
    assert result.choice.k == 3
    assert result.metrics.loc[result.metrics["is_chosen"], "algorithm"].item() == "agglomerative"
    assert list(result.segment_ids[[0, 100, 200]]) == [3, 1, 2]


def test_name_segments_matches_prototypes_one_to_one():
    protos = seg.TRANSACTION_PROTOTYPES
    profile = pd.DataFrame(
        [protos["At risk"], protos["Champions"], protos["New"]], index=[1, 2, 3], columns=list("abcdef")
    )
    assert seg.name_segments(profile, protos) == {1: "At risk", 2: "Champions", 3: "New"}
    # more segments than names: names repeat with a number
    many = pd.DataFrame(np.zeros((len(protos) + 1, 6)), index=range(1, len(protos) + 2))
    names = seg.name_segments(many, protos)
    assert len(set(names.values())) == len(protos) + 1


def test_bad_k_range_and_algorithm_are_named():
    with pytest.raises(seg.SegmentationError, match="k_min must be at least 2"):
        seg.validate_k_range(1, 5, 100)
    with pytest.raises(seg.SegmentationError, match="k_max"):
        seg.validate_k_range(6, 5, 100)
    with pytest.raises(seg.SegmentationError, match="too few"):
        seg.validate_k_range(2, 10, 8)
    with pytest.raises(seg.SegmentationError, match="unknown algorithm"):
        seg.segment(blobs(), pd.DataFrame(), "transactions", "m", (), "kmedoids", [2], SEED, 1, 1, 1, 1)


def test_population_follows_the_triggering_layout():
    from include.tasks.segment_customers import resolve_population

    assert resolve_population(None, []) == "transactions"
    assert resolve_population(None, ["online_retail", "customer_personality"]) == "customer_profiles"
    assert resolve_population("transactions", ["customer_personality"]) == "transactions"


def test_silhouettes_equal_scikit_learn_for_every_labelling_at_once():
    """One pass over the distances for many labellings: each equals silhouette_score, with
    singleton clusters (silhouette 0), rows split over several chunks, and the undefined cases."""
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(SEED)
    x = np.vstack([blobs(), rng.normal(size=(37, 4)) * 4])
    labellings = [rng.integers(0, k, len(x)) for k in (2, 3, 7)]
    singletons = labellings[1].copy()
    singletons[[0, 5]] = [9, 11]  # two clusters of one row
    labellings += [singletons, np.zeros(len(x), dtype=int), np.arange(len(x))]
    got = seg.silhouettes(x, labellings, chunk=64)  # 337 rows: six chunks, the last partial
    for labels, value in zip(labellings[:4], got[:4], strict=True):
        assert value == pytest.approx(silhouette_score(x, labels), abs=1e-9)
    assert got[4:] == [None, None]  # one cluster; as many clusters as rows
