"""Ranking metrics worked out by hand, and the time split."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from include.ml import evaluation

pytestmark = pytest.mark.unit


def _lists(rows):
    return pd.DataFrame(rows, columns=["customer_id", "rank", "product_id"])


def test_metrics_at_10_by_hand():
    # A: relevant {x, y}, list x p y q: hits at ranks 1 and 3
    #    precision 2/10, recall 1, DCG 1 + 1/log2(4) = 1.5, IDCG 1 + 1/log2(3), AP (1/1 + 2/3) / 2
    # B: relevant {z}, list p q: nothing. C: relevant {w}, no list at all: scores 0.
    # D has a list but nothing relevant: not evaluated, not in the coverage.
    recommended = _lists(
        [(1, 1, "x"), (1, 2, "p"), (1, 3, "y"), (1, 4, "q"), (2, 1, "p"), (2, 2, "q"), (4, 1, "r")]
    )
    relevant = pd.DataFrame({"customer_id": [1, 1, 2, 3], "product_id": ["x", "y", "z", "w"]})
    got = evaluation.metrics_at_k(recommended, relevant, catalogue_size=8)
    ndcg_a = 1.5 / (1 + 1 / math.log2(3))
    assert got["users_evaluated"] == 3
    assert got["precision_at_10"] == pytest.approx(0.2 / 3)
    assert got["recall_at_10"] == pytest.approx(1 / 3)
    assert got["ndcg_at_10"] == pytest.approx(ndcg_a / 3)
    assert got["map_at_10"] == pytest.approx((1 + 2 / 3) / 2 / 3)
    assert got["hit_rate_at_10"] == pytest.approx(1 / 3)
    assert got["coverage"] == pytest.approx(4 / 8)  # x p y q of a catalogue of 8


def test_a_perfect_list_scores_one_and_ranks_beyond_10_do_not_count():
    recommended = _lists([(1, r, f"p{r}") for r in range(1, 13)])
    relevant = pd.DataFrame({"customer_id": [1] * 12, "product_id": [f"p{r}" for r in range(1, 13)]})
    got = evaluation.metrics_at_k(recommended, relevant, catalogue_size=12)
    assert got["precision_at_10"] == pytest.approx(1.0)
    assert got["ndcg_at_10"] == pytest.approx(1.0)
    assert got["map_at_10"] == pytest.approx(1.0)
    assert got["recall_at_10"] == pytest.approx(10 / 12)
    assert got["coverage"] == pytest.approx(10 / 12)


def test_order_matters_for_ndcg_not_for_precision():
    relevant = pd.DataFrame({"customer_id": [1], "product_id": ["x"]})
    first = evaluation.metrics_at_k(_lists([(1, 1, "x"), (1, 2, "p")]), relevant, 10)
    second = evaluation.metrics_at_k(_lists([(1, 1, "p"), (1, 2, "x")]), relevant, 10)
    assert first["precision_at_10"] == second["precision_at_10"]
    assert first["ndcg_at_10"] == pytest.approx(1.0)
    assert second["ndcg_at_10"] == pytest.approx(1 / math.log2(3))
    assert second["map_at_10"] == pytest.approx(0.5)


def _interactions(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "invoice_date"])
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    return frame


def test_time_split_and_relevant_products():
    interactions = _interactions(
        [
            (1, "a", "2011-01-01"),
            (1, "b", "2011-01-05"),
            (2, "a", "2011-01-07"),
            (1, "b", "2011-01-08"),  # test: bought before -> buy_again
            (1, "c", "2011-01-10"),  # test: new -> discover
            (3, "a", "2011-01-09"),  # customer 3 has no training history: not evaluated
        ]
    )
    split = evaluation.time_split(interactions["invoice_date"], test_days=3)
    assert split.as_dates() == {
        "train_start_date": pd.Timestamp("2011-01-01").date(),
        "train_end_date": pd.Timestamp("2011-01-07").date(),
        "test_start_date": pd.Timestamp("2011-01-08").date(),
        "test_end_date": pd.Timestamp("2011-01-10").date(),
    }
    discover = evaluation.relevant_products(interactions, split, "discover")
    again = evaluation.relevant_products(interactions, split, "buy_again")
    assert discover.values.tolist() == [[1, "c"]]
    assert again.values.tolist() == [[1, "b"]]


def test_a_test_window_longer_than_the_data_is_refused():
    dates = pd.Series(pd.to_datetime(["2011-01-01", "2011-01-05"]))
    with pytest.raises(ValueError, match="leave no training data"):
        evaluation.time_split(dates, test_days=30)
    with pytest.raises(ValueError, match="at least 1"):
        evaluation.time_split(dates, test_days=0)
