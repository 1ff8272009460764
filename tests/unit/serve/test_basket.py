"""Basket recommendations on a hand-made catalogue whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from include.serve import basket

pytestmark = pytest.mark.unit

# Products (positions): 0 mug, 1 saucer, 2 teapot, 3 spoon, 4 tray.
#   pairs (confidence):   mug -> saucer 0.5, mug -> teapot 0.2, saucer -> spoon 0.4
#   co_purchase (cosine): mug ~ teapot 0.3, saucer ~ tray 0.6
#   content (cosine):     mug ~ spoon 0.9 (x 0.1 weight = 0.09)
# Best sellers: tray 0.3, spoon 0.2, mug 0.1.
PAIR, CO, CONTENT = (basket.SIGNALS.index(s) for s in ("pair", "co_purchase", "content"))
INDEX = basket.build_index(
    5,
    source=np.array([0, 0, 1, 0, 1, 0]),
    target=np.array([1, 2, 3, 2, 4, 3]),
    weight=np.array([0.5, 0.2, 0.4, 0.3, 0.6, 0.9]),
    signal=np.array([PAIR, PAIR, PAIR, CO, CO, CONTENT]),
    best_sellers=np.array([4, 3, 0]),
    best_seller_scores=np.array([0.3, 0.2, 0.1]),
)


def test_a_single_product_basket_ranks_by_summed_weights():
    # mug: saucer 0.5 (pair), teapot 0.2 + 0.3 = 0.5 (pair + co_purchase), spoon 0.09 (content).
    # saucer and teapot tie at 0.5: the lower position (saucer, 1) first.
    picks = basket.recommend(INDEX, [0], [], 3)
    assert [p.position for p in picks] == [1, 2, 3]
    assert [round(p.score, 6) for p in picks] == [0.5, 0.5, 0.09]
    # each pick names its heaviest contribution: teapot's is co_purchase 0.3 > pair 0.2
    assert [(p.signal, p.because_of) for p in picks] == [("pair", 0), ("co_purchase", 0), ("content", 0)]


def test_the_answer_follows_the_basket_and_never_proposes_what_is_in_it():
    # mug + saucer: teapot 0.5, tray 0.6 (saucer co_purchase), spoon 0.4 + 0.09 = 0.49
    picks = basket.recommend(INDEX, [0, 1], [], 5)
    assert [p.position for p in picks][:3] == [4, 2, 3]
    assert round(picks[2].score, 6) == 0.49 and picks[2].because_of == 1  # saucer's pair 0.4 weighs most
    assert not {0, 1} & {p.position for p in picks}


def test_excluded_products_are_skipped_and_best_sellers_fill_the_list():
    # mug, excluding saucer: teapot 0.5, spoon 0.09; then the best sellers not yet taken:
    # tray (0.3); spoon is already in, mug is in the basket.
    picks = basket.recommend(INDEX, [0], [1], 5)
    assert [p.position for p in picks] == [2, 3, 4]
    assert picks[-1].signal == "best_seller" and picks[-1].because_of is None


def test_a_product_without_neighbours_gets_the_best_sellers():
    picks = basket.recommend(INDEX, [4], [], 2)  # tray has no outgoing neighbours
    assert [(p.position, p.signal) for p in picks] == [(3, "best_seller"), (0, "best_seller")]


def test_self_links_and_zero_weights_are_dropped():
    index = basket.build_index(
        2,
        np.array([0, 0]),
        np.array([0, 1]),
        np.array([0.7, 0.0]),
        np.array([PAIR, PAIR]),
        np.array([]),
        np.array([]),
    )
    assert index.indptr.tolist() == [0, 0, 0]
    assert basket.recommend(index, [0], [], 3) == []
