"""The lists on a tiny hand-made shop whose answers are worked out in the comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from include.ml import recommend, similarity

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


@pytest.fixture
def model() -> recommend.Model:
    content = similarity.blocked_top_k_cosine(similarity.description_features(PRODUCTS["description"]), k=3)
    segments = pd.DataFrame({"customer_id": [1, 2, 3, 4], "segment_id": [10, 10, 20, 20]})
    return recommend.fit(_interactions(), PRODUCTS["product_id"].to_numpy(), content, AS_OF, segments)


def _list(frame: pd.DataFrame, customer_id: int) -> list[str]:
    return frame[frame["customer_id"] == customer_id].sort_values("rank")["product_id"].tolist()


def test_discover_never_shows_what_the_customer_bought(model):
    lists = recommend.discover(model, recommend.BlendWeights())
    bought = _interactions().groupby("customer_id")["product_id"].apply(set)
    for customer_id, products in bought.items():
        assert not set(_list(lists, customer_id)) & products, customer_id
    # customer 1 (a, b): c is bought by customer 2, who also bought a and b
    assert "c" in _list(lists, 1)
    assert lists["reason"].isin(recommend.REASONS.values()).all()


def test_a_product_without_sales_is_reached_through_content(model):
    lists = recommend.discover(model, recommend.single_signal("content"))
    assert _list(lists, 1)[0] == "n"  # customer 1 bought a; n is described like a
    co_purchase_only = recommend.discover(model, recommend.single_signal("co_purchase"))
    assert "n" not in set(co_purchase_only["product_id"])  # nobody bought n


def test_buy_again_ranks_recent_purchases_first_and_the_baseline_frequent_ones(model):
    weights = recommend.BlendWeights(buy_again_half_life_days=15.0, buy_again_trending=0.0)
    hybrid = recommend.buy_again(model, weights)
    baseline = recommend.buy_again(model, weights, baseline="most_bought")
    # b: 3 x 0.5 ** (223 / 15) ~ 0; d: 1 x 0.5 ** (1 / 15) ~ 0.95
    assert _list(hybrid, 4) == ["d", "b"]
    assert _list(baseline, 4) == ["b", "d"]  # 3 invoices against 1
    assert set(hybrid["product_id"][hybrid["customer_id"] == 2]) == {"a", "b", "c"}


def test_cold_start_uses_the_segment_else_global_popularity(model):
    segment_of = pd.Series({99: 20})
    lists = recommend.cold_start(model, np.array([98, 99]), segment_of, n=2)
    # segment 20 (customers 3, 4): d bought by both -> first
    assert _list(lists, 99)[0] == "d"
    assert set(lists.loc[lists["customer_id"] == 99, "reason"]) == {recommend.REASONS["cold_start_segment"]}
    # no segment: b is bought by 3 customers of 4 -> first
    assert _list(lists, 98)[0] == "b"
    assert set(lists.loc[lists["customer_id"] == 98, "reason"]) == {recommend.REASONS["cold_start_global"]}


def test_without_segments_segment_popularity_is_global_popularity():
    content = similarity.blocked_top_k_cosine(similarity.description_features(PRODUCTS["description"]), k=3)
    model = recommend.fit(_interactions(), PRODUCTS["product_id"].to_numpy(), content, AS_OF, segments=None)
    by_segment = recommend.discover(model, recommend.single_signal("segment_popularity"), with_reason=False)
    by_global = recommend.discover(model, recommend.single_signal("global_popularity"), with_reason=False)
    pd.testing.assert_frame_equal(by_segment, by_global)


def test_lists_are_deterministic(model):
    first = recommend.discover(model, recommend.BlendWeights())
    again = recommend.discover(model, recommend.BlendWeights())
    pd.testing.assert_frame_equal(first, again)


def test_purchases_on_or_after_the_as_of_date_are_not_seen():
    content = similarity.blocked_top_k_cosine(similarity.description_features(PRODUCTS["description"]), k=3)
    early = recommend.fit(
        _interactions(), PRODUCTS["product_id"].to_numpy(), content, pd.Timestamp("2011-01-06")
    )
    assert 4 not in set(early.customer_ids[early.frequency[:, 3].nonzero()[0]])  # d of customer 4 is later


def test_an_unknown_product_names_the_table():
    content = similarity.blocked_top_k_cosine(similarity.description_features(PRODUCTS["description"]), k=3)
    bad = _interactions()
    bad.loc[0, "product_id"] = "zz"
    with pytest.raises(ValueError, match="zz"):
        recommend.fit(bad, PRODUCTS["product_id"].to_numpy(), content, AS_OF)
