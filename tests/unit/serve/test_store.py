"""The in-memory snapshot built from hand-made mart columns (what load_snapshot reads)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from include.serve import store

pytestmark = pytest.mark.unit

RUN, SEG = "rec-run", "seg-run"


def columns(rows: list[tuple], names: str) -> dict[str, list]:
    keys = names.split()
    return {k: [r[i] for r in rows] for i, k in enumerate(keys)}


def marts() -> dict[str, dict[str, list]]:
    return {
        "customer_recommendations": columns(
            [
                (1, "buy_again", 1, "B", "bee", 0.9, "you buy it often", False),
                (1, "discover", 1, "A", "ay", 0.8, "trending", False),
                (1, "discover", 2, "C", "sea", 0.7, "similar", False),
                (2, "discover", 1, "A", "ay", 0.5, "new customer: a best seller", True),
            ],
            "customer_id list_type rank product_id description score reason is_cold_start",
        ),
        "product_similarity": columns(
            [
                ("A", "co_purchase", 1, "B", 0.6, "ay", "bee"),
                ("A", "content", 1, "C", 0.4, "ay", "sea"),
                ("B", "content", 1, "A", 0.4, "bee", "ay"),
            ],
            "product_id method rank similar_product_id score product_description similar_product_description",
        ),
        "product_pairs": columns(
            # A is on 30 of 100 invoices, B on 20, D (only in pairs) on 10
            [
                ("A", "B", 10, 0.1, 0.33, 1.6, 30, 100, True),
                ("B", "A", 10, 0.1, 0.5, 1.6, 20, 100, True),
                ("D", "A", 5, 0.05, 0.5, 1.6, 10, 100, False),
            ],
            "product_id other_product_id invoices support confidence lift product_invoices total_invoices for_basket",
        ),
        "customer_segments": columns(
            [
                (
                    1,
                    2,
                    "Loyal",
                    0,
                    0,
                    False,
                    0.1,
                    0.2,
                    "2011-12-10",
                    "UK",
                    3,
                    7,
                    10.0,
                    10.0,
                    0.0,
                    30,
                    5.0,
                    2,
                    0.0,
                    None,
                )
            ],
            "customer_id segment_id segment_name kmeans_cluster dbscan_cluster is_outlier pca_x pca_y as_of_date"
            " country recency_days frequency monetary gross_revenue returns_amount tenure_days avg_basket_value"
            " distinct_products return_rate avg_days_between_orders",
        ),
        "segment_profiles": columns([(2, "Loyal", 1)], "segment_id segment_name customers"),
    }


@pytest.fixture(scope="module")
def snapshot() -> store.Snapshot:
    runs = {**dict.fromkeys(store.RECOMMENDATION_MARTS, RUN), **dict.fromkeys(store.SEGMENTATION_MARTS, SEG)}
    return store.build_snapshot(runs, datetime(2026, 1, 1, tzinfo=UTC), marts(), Path("/models"), 0.0)


def test_lists_are_slices_of_the_mart_rows(snapshot):
    assert snapshot.lists.rows((1, "discover"), 10)["product_id"] == ["A", "C"]
    assert snapshot.lists.rows((1, "discover"), 1)["product_id"] == ["A"]
    assert snapshot.lists.rows((1, "buy_again"), 10)["reason"] == ["you buy it often"]
    assert snapshot.lists.rows((3, "discover"), 10) is None
    assert snapshot.cold_start_customers == frozenset({2})


def test_the_catalogue_holds_every_product_named_by_a_mart(snapshot):
    assert snapshot.product_ids == ["A", "B", "C", "D"]
    assert snapshot.descriptions == {"A": "ay", "B": "bee", "C": "sea", "D": ""}
    assert snapshot.similar.rows(("A", "content"), 5)["similar_product_id"] == ["C"]
    assert snapshot.similar.rows(("C", "content"), 5) is None  # known product, no neighbours


def test_best_sellers_are_ordered_by_share_of_invoices(snapshot):
    assert snapshot.best_sellers(3) == [("A", 0.3), ("B", 0.2), ("D", 0.1)]


def test_only_basket_pairs_enter_the_neighbour_index(snapshot):
    index, pos = snapshot.neighbours, snapshot.position
    d = pos["D"]
    assert index.indptr[d + 1] - index.indptr[d] == 0  # D -> A is not a basket pair
    a = pos["A"]
    targets = index.target[index.indptr[a] : index.indptr[a + 1]].tolist()
    assert sorted(targets) == sorted([pos["B"], pos["B"], pos["C"]])  # pair, co_purchase, content


def test_segment_answers_carry_features_and_profile(snapshot):
    answer = snapshot.segments[1]
    assert answer["segment_id"] == 2 and answer["segment"]["customers"] == 1
    assert answer["features"]["avg_days_between_orders"] is None
    assert snapshot.recommendation_run_id == RUN and snapshot.segmentation_run_id == SEG
