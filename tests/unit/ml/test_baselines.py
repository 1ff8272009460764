"""Every method's lists: per_list products when the catalogue allows, the right products only."""

from __future__ import annotations

import numpy as np
import pytest

from include.ml import baselines, protocol, recommender
from tests.unit.ml.test_signals import SPLIT, _shop

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def fit():
    interactions, products = _shop(False)
    return protocol.make_fit(interactions, products, SPLIT, None)


@pytest.mark.parametrize("name", sorted(baselines.METHODS))
def test_lists_are_full_and_respect_the_history(fit, name):
    method = baselines.METHODS[name]
    rows = np.arange(fit.history.n_customers)
    bought = fit.history.bought
    sizes = np.diff(bought.indptr)
    n = 8
    for list_type in method.list_types:
        top = method.lists(fit, method.defaults, rows, n, list_type)
        assert top.cols.shape == (len(rows), n)
        for r in rows:
            listed = top.cols[r][top.cols[r] >= 0]
            owned = set(bought[r].indices)
            assert len(set(listed)) == len(listed), "no product twice"
            if list_type == "discover":
                assert not set(listed) & owned
                assert len(listed) == min(n, fit.history.n_products - sizes[r])  # full when it can be
            else:
                assert set(listed) <= owned
                assert len(listed) == min(n, sizes[r])


@pytest.mark.parametrize("list_type", ["discover", "buy_again"])
def test_hybrid_lists_are_full_too(fit, list_type):
    lists = recommender.lists(fit, recommender.default_spec(list_type), 8)
    sizes = lists.groupby("customer_id").size()
    owned = np.diff(fit.history.bought.indptr)
    expected = (
        np.minimum(8, fit.history.n_products - owned) if list_type == "discover" else np.minimum(8, owned)
    )
    assert sizes.reindex(fit.history.customer_ids).tolist() == expected.tolist()
