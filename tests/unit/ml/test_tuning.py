"""A hybrid trial is a weighted sum of signals computed once, and a top-n; studies are seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from include import config
from include.ml import evaluation, protocol, recommender, tuning
from tests.unit.ml.test_signals import SPLIT, _shop

pytestmark = pytest.mark.unit


def _candidates() -> recommender.Candidates:
    # 2 customers; customer 0 has candidates 1, 2, 4; customer 1 has 0 and 3
    pattern = recommender.ranking.canonical(
        sparse.csr_matrix((np.ones(5), ([0, 0, 0, 1, 1], [1, 2, 4, 0, 3])), shape=(2, 5))
    )
    values = {
        "similar_customers": np.array([1.0, 0.2, 0.0, 0.5, 1.0]),
        "trending": np.array([0.1, 0.9, 0.3, 1.0, 0.0]),
    }
    return recommender.Candidates(np.array([0, 1]), pattern, values, tie=np.zeros(5))


def test_a_trial_is_the_weighted_sum_worked_out_by_hand():
    cands = _candidates()
    weights = {"similar_customers": 1.0, "trending": 0.5}
    # customer 0: product 1: 1 + 0.05 = 1.05; product 2: 0.2 + 0.45 = 0.65; product 4: 0 + 0.15
    # customer 1: product 0: 0.5 + 0.5 = 1.0; product 3: 1 + 0 = 1.0 (tie: the smaller column)
    np.testing.assert_allclose(recommender.blend(cands, weights), [1.05, 0.65, 0.15, 1.0, 1.0])
    top = recommender.top_n(cands, weights, 2)
    assert top.cols.tolist() == [[1, 2], [0, 3]]
    # trending alone reorders customer 0: 2 (0.9), 4 (0.3), 1 (0.1)
    assert recommender.top_n(cands, {"trending": 1.0}, 3).cols[0].tolist() == [2, 4, 1]
    reasons = recommender.reasons(cands, weights, top)
    assert reasons.tolist() == ["similar_customers", "trending", "similar_customers", "similar_customers"]


def test_trial_budget_grows_with_the_search_space_within_bounds():
    assert tuning.n_trials(1) == max(config.TUNING_MIN_TRIALS, config.TUNING_TRIALS_PER_PARAMETER)
    assert tuning.n_trials(100) == config.TUNING_MAX_TRIALS
    assert tuning.n_trials(4) == int(
        np.clip(4 * config.TUNING_TRIALS_PER_PARAMETER, config.TUNING_MIN_TRIALS, config.TUNING_MAX_TRIALS)
    )


def test_hybrid_tuning_is_seeded_and_saved(tmp_path):
    interactions, products = _shop(True)
    split = evaluation.Split(
        interactions["invoice_date"].min(), SPLIT - pd.Timedelta(days=1), SPLIT, pd.Timestamp("2011-03-30")
    )
    fit = protocol.make_fit(interactions, products, SPLIT, None)
    relevant = evaluation.relevant_for(fit.history, interactions, split, "discover")
    spec = recommender.default_spec("discover")
    first, value, trials = tuning.tune_hybrid(spec, fit, relevant, seed=7, folder=tmp_path)
    again, value_again, _ = tuning.tune_hybrid(spec, fit, relevant, seed=7)
    assert first == again and value == value_again
    assert trials == tuning.n_trials(len(recommender.DISCOVER_COMPONENTS) + 1)
    assert (tmp_path / "discover_hybrid.pkl").exists() and (tmp_path / "discover_hybrid_trials.csv").exists()
    # the tuned weights are what the best trial scored: rescoring them gives the same NDCG
    cands = recommender.candidates(
        fit, first, relevant.rows, evaluation.K, only=recommender.DISCOVER_COMPONENTS
    )
    assert evaluation.ndcg(recommender.top_n(cands, first.weights, evaluation.K), relevant) == pytest.approx(
        value
    )
