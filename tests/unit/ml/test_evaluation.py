"""Ranking metrics worked out by hand, and the time split."""

from __future__ import annotations

import math

import numpy as np
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
    # F1 of A: 2 * 0.2 * 1 / (0.2 + 1) = 1/3; B and C: 0
    assert got["f1_at_10"] == pytest.approx((1 / 3) / 3)


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


def test_paired_bootstrap_interval_sign():
    rng = np.random.default_rng(0)
    better = 0.05 + rng.normal(0, 0.01, size=(500, 1))  # the hybrid always ahead by ~0.05
    even = rng.normal(0, 0.05, size=(500, 1))  # no difference on average
    low, high = evaluation.paired_bootstrap(np.hstack([better, even]), resamples=1000, seed=42)
    assert low[0] > 0 and high[0] < 0.06 and low[0] < 0.05 < high[0]
    assert low[1] < 0 < high[1]
    again = evaluation.paired_bootstrap(np.hstack([better, even]), resamples=1000, seed=42)
    np.testing.assert_array_equal(low, again[0])  # fixed seed: the same interval every run


def test_paired_bootstrap_of_a_constant_is_that_constant():
    # every customer's difference is 0.1: every resample's mean is 0.1
    low, high = evaluation.paired_bootstrap(np.full((7, 1), 0.1), resamples=200, seed=1)
    assert low[0] == pytest.approx(0.1) and high[0] == pytest.approx(0.1)


def test_a_short_history_is_not_evaluated_but_not_an_error():
    two_days = pd.Series(pd.to_datetime(["2011-01-01", "2011-01-02"]))
    plan = evaluation.plan(two_days, test_days=30, validation_days=30)
    assert not plan.evaluated and "too short" in plan.reason and plan.test is None
    long = pd.Series(pd.date_range("2011-01-01", "2011-04-30"))
    plan = evaluation.plan(long, test_days=30, validation_days=30)
    assert plan.evaluated
    assert plan.test.test_start == pd.Timestamp("2011-04-01") and plan.test.test_end == pd.Timestamp(
        "2011-04-30"
    )
    assert plan.validation.test_start == pd.Timestamp("2011-03-02")
    assert plan.validation.test_end == pd.Timestamp("2011-03-31") == plan.test.train_end
