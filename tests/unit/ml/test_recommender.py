"""The lists on a tiny hand-made shop whose answers are worked out in the comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from include.ml import baselines, protocol, recommender
from include.ml.recommender import HybridSpec

pytestmark = pytest.mark.unit

PRODUCTS = pd.DataFrame(
    {
        "product_id": ["a", "b", "c", "d", "n"],
        "description": [
            "RED HEART MUG",
            "BLUE STAR PLATE",
            "GREEN TREE CANDLE",
            "YELLOW SUN BOWL",
            "RED HEART MUG LARGE",  # n: new, never sold, described like a
        ],
    }
)
AS_OF = pd.Timestamp("2011-01-10")
SEGMENTS = pd.DataFrame({"customer_id": [1, 2, 3, 4], "segment_id": [10, 10, 20, 20]})


def _interactions() -> pd.DataFrame:
    rows = [
        (1, "a", "2011-01-01", 1),
        (1, "b", "2011-01-02", 1),
        (2, "a", "2011-01-03", 1),
        (2, "b", "2011-01-03", 1),
        (2, "c", "2011-01-04", 1),
        (3, "c", "2011-01-05", 1),
        (3, "d", "2011-01-06", 1),
        (4, "b", "2010-06-01", 3),  # customer 4: b three times, long ago ...
        (4, "d", "2011-01-09", 1),  # ... d once, yesterday
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "invoice_date", "invoices"])
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    frame["quantity"] = frame["invoices"] * 2
    return frame


def _fit(segments=SEGMENTS, as_of=AS_OF, interactions=None):
    data = _interactions() if interactions is None else interactions
    return protocol.make_fit(data, PRODUCTS, as_of, segments, catalogue="all")


@pytest.fixture
def fit():
    return _fit()


def _list(frame: pd.DataFrame, customer_id: int) -> list[str]:
    return frame[frame["customer_id"] == customer_id].sort_values("rank")["product_id"].tolist()


def _top_list(fit, top, customer_id: int, scored_only: bool = False) -> list[str]:
    row = int(np.flatnonzero(fit.history.customer_ids == customer_id)[0])
    cols = top.cols[row]
    keep = cols >= 0
    if scored_only:  # leave out the fill (best sellers completing a short list)
        keep &= ~np.isnan(top.scores[row])
    return list(fit.history.product_ids[cols[keep]])


def test_discover_never_shows_what_the_customer_bought(fit):
    lists = recommender.lists(fit, recommender.default_spec("discover"), n=10)
    bought = _interactions().groupby("customer_id")["product_id"].apply(set)
    for customer_id, products in bought.items():
        assert not set(_list(lists, customer_id)) & products, customer_id
    # customer 1 (a, b): c is bought by customer 2, who also bought a and b
    assert "c" in _list(lists, 1)
    assert lists["reason"].isin(recommender.REASONS.values()).all()


def test_a_product_without_sales_is_reached_through_content(fit):
    rows = np.arange(fit.history.n_customers)
    params = {"half_life_days": 180.0, "neighbours": 20}
    content = baselines.content_only(fit, params, rows, 10, "discover")
    assert _top_list(fit, content, 1)[0] == "n"  # customer 1 bought a; n is described like a
    co_purchase = baselines.co_purchase_only(fit, params, rows, 10, "discover")
    scored = {p for c in fit.history.customer_ids for p in _top_list(fit, co_purchase, c, scored_only=True)}
    assert "n" not in scored  # nobody bought n: co-purchase cannot score it (only the fill lists it)


def test_buy_again_ranks_recent_purchases_first_and_the_baseline_frequent_ones(fit):
    spec = HybridSpec(
        "buy_again",
        weights={"frequency": 1.0, "trending": 0.0},
        half_life_days=7.0,
        components={"frequency": {"half_life_days": 15.0}},
    )
    hybrid = recommender.lists(fit, spec, n=10)
    rows = np.arange(fit.history.n_customers)
    baseline = baselines.own_most_bought(fit, {"half_life_days": 1e9}, rows, 10, "buy_again")
    # b: 3 x 0.5 ** (223 / 15) ~ 0; d: 1 x 0.5 ** (1 / 15) ~ 0.95
    assert _list(hybrid, 4) == ["d", "b"]
    assert _top_list(fit, baseline, 4) == ["b", "d"]  # 3 invoices against 1
    assert set(hybrid["product_id"][hybrid["customer_id"] == 2]) == {"a", "b", "c"}


def test_cold_start_uses_the_segment_else_global_popularity(fit):
    spec = HybridSpec("discover", {}, 7.0, {"segment_popularity": {"window_days": None, "shrink": 0.0}})
    segment_of = pd.Series({99: 20})
    lists = recommender.cold_start(fit, spec, np.array([98, 99]), segment_of, n=2)
    # segment 20 (customers 3, 4): d bought by both -> first
    assert _list(lists, 99)[0] == "d"
    assert set(lists.loc[lists["customer_id"] == 99, "reason"]) == {recommender.REASONS["cold_start_segment"]}
    # no segment: b is bought by 3 customers of 4 -> first
    assert _list(lists, 98)[0] == "b"
    assert set(lists.loc[lists["customer_id"] == 98, "reason"]) == {recommender.REASONS["cold_start_global"]}


def test_without_segments_segment_popularity_is_global_popularity():
    fit = _fit(segments=None)
    rows = np.arange(fit.history.n_customers)
    by_segment = baselines.segment_popularity(fit, {"window_days": None, "shrink": 0.0}, rows, 3, "discover")
    by_global = baselines.global_popularity(fit, {"measure": "customers"}, rows, 3, "discover")
    np.testing.assert_array_equal(by_segment.cols, by_global.cols)


def test_lists_are_deterministic(fit):
    first = recommender.lists(fit, recommender.default_spec("discover"), n=10)
    again = recommender.lists(_fit(), recommender.default_spec("discover"), n=10)
    pd.testing.assert_frame_equal(first, again)


def test_purchases_on_or_after_the_as_of_date_are_not_seen():
    early = _fit(as_of=pd.Timestamp("2011-01-06"))
    d = int(np.flatnonzero(early.history.product_ids == "d")[0])
    buyers = early.history.customer_ids[early.history.bought[:, d].nonzero()[0]]
    assert 4 not in set(buyers)  # d of customer 4 is later
    assert 3 not in set(buyers)  # 2011-01-06 is the as-of day itself: not before it


def test_an_unknown_product_names_the_table():
    bad = _interactions()
    bad.loc[0, "product_id"] = "zz"
    with pytest.raises(ValueError, match="zz"):
        _fit(interactions=bad)


def test_als_after_the_neighbour_matrices_gives_the_same_lists(monkeypatch):
    """Above ALS_BESIDE_MAX_PAIRS purchase pairs the production fit builds ALS after the
    neighbour matrices instead of beside them (memory): the same factors, the same lists."""
    from include import config

    specs = [recommender.default_spec(lt) for lt in ("discover", "buy_again")]
    assert all(s.weights.get("als", 0) > 0 for s in specs)
    lists = {}
    for beside in (True, False):
        monkeypatch.setattr(config, "ALS_BESIDE_MAX_PAIRS", 10**9 if beside else 0)
        fit = _fit()
        recommender.prepare(fit, specs)
        assert any(key[0] == "als" for key in fit.cache)
        lists[beside] = [recommender.lists(fit, spec, 3) for spec in specs]
    for concurrent, sequential in zip(lists[True], lists[False], strict=True):
        pd.testing.assert_frame_equal(concurrent, sequential)
