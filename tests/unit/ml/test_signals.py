"""The signals on matrices whose answers are worked out by hand, and the protocol's promise:
nothing dated on or after the split reaches a fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from include.ml import baselines, protocol, recommender, signals

pytestmark = pytest.mark.unit


def test_ease_closed_form_on_three_products():
    # 4 customers x 3 products: X^T X = [[3, 2, 2], [2, 3, 2], [2, 2, 3]]; with lambda = 1,
    # X^T X + I = 2 I + 2 J (J: all ones), whose inverse is (I - J / 4) / 2: P_ii = 3/8, P_ij = -1/8.
    # B_ij = -P_ij / P_jj = (1/8) / (3/8) = 1/3 off the diagonal, 0 on it.
    bought = sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=float))
    weights = signals.ease_weights(signals.gram_matrix(bought), lam=1.0)
    expected = np.full((3, 3), 1.0 / 3.0)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(weights, expected, rtol=1e-5)


def test_ease_weights_equal_the_formula_on_a_random_shop():
    # 300 customers x 257 products (not a multiple of the mirroring band): B = I - P / diag(P)
    rng = np.random.default_rng(7)
    bought = sparse.random(300, 257, density=0.05, random_state=rng, format="csr")
    bought.data[:] = 1.0
    gram = bought.T @ bought
    np.testing.assert_allclose(signals.gram_matrix(bought), gram.toarray(), rtol=1e-6)
    p = np.linalg.inv(gram.toarray() + 50.0 * np.eye(257))
    expected = -p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    weights = signals.ease_weights(signals.gram_matrix(bought), lam=50.0)
    assert weights.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(weights, expected, atol=1e-6)


def test_mirror_lower_fills_the_upper_triangle_in_bands():
    square = np.tril(np.arange(49.0).reshape(7, 7))
    signals._mirror_lower(square, step=3)
    lower = np.tril(np.arange(49.0).reshape(7, 7))
    np.testing.assert_array_equal(square, lower + np.tril(lower, -1).T)


def _history(rows) -> signals.History:
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "invoice_date"])
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    frame["invoices"], frame["quantity"] = 1, 1
    return signals.build_history(frame, np.array(["a", "b", "c", "d"]), pd.Timestamp("2011-01-11"))


def test_similar_customers_through_item_space_by_hand():
    # half-life 1 day: only purchases of the last 6 days count, 0.5 ** age
    # customer 2 (a, c) bought c yesterday: weight 0.5 / 2 products; customer 3 (b, d) bought d
    # 2 days ago: 0.25 / 2. M[a, c] = M[c, c] = 0.25, M[b, d] = M[d, d] = 0.125.
    h = _history(
        [
            (1, "a", "2010-10-03"),
            (1, "b", "2010-10-03"),
            (2, "a", "2010-11-22"),
            (2, "c", "2011-01-10"),
            (3, "b", "2010-11-12"),
            (3, "d", "2011-01-09"),
        ]
    )
    m = signals.similar_customers_matrix(h, half_life=1.0, neighbours=10).toarray()
    expected = np.zeros((4, 4))
    expected[0, 2] = expected[2, 2] = 0.25
    expected[1, 3] = expected[3, 3] = 0.125
    np.testing.assert_allclose(m, expected)
    # customer 1 (a, b): c (0.25) before d (0.125)
    scores = np.asarray(h.bought[0] @ m).ravel()
    assert scores.tolist() == [0.0, 0.0, 0.25, 0.125]


def test_item_knn_matrix_by_hand():
    # co-occurrence of 0 with 1: 2, of 0 with 2: 1; buyers 3, 2, 1. alpha 0.5, no shrink:
    # cosine 2 / sqrt(3 * 2) = 0.8165 and 1 / sqrt(3 * 1) = 0.5774; one neighbour kept per product
    pool = signals.NeighbourPool(
        sparse.csr_matrix(np.array([[0.0, 2.0, 1.0], [2.0, 0.0, 0.0], [1.0, 0.0, 0.0]])),
        np.array([3.0, 2.0, 1.0]),
    )
    got = signals.item_knn_matrix(pool, neighbours=1, shrink=0.0, alpha=0.5).toarray()
    expected = np.zeros((3, 3))
    expected[0, 1] = expected[1, 0] = 2 / np.sqrt(6)
    expected[2, 0] = 1 / np.sqrt(3)
    np.testing.assert_allclose(got, expected)


def test_neighbour_pool_holds_the_best_partners_by_cosine_with_their_counts():
    rng = np.random.default_rng(11)
    x = sparse.random(40, 15, density=0.3, format="csr", random_state=rng)
    x.data[:] = 1.0
    pool = signals.neighbour_pool(x, pool_size=3)
    co = (x.T @ x).toarray()
    n = np.diag(co).copy()
    np.fill_diagonal(co, 0.0)
    cosine = co / np.sqrt(np.outer(n, n))
    stored = pool.counts.toarray()
    for i in range(15):
        best = [j for j in np.lexsort((np.arange(15), -cosine[i])) if cosine[i, j] > 0][:3]
        assert set(np.flatnonzero(stored[i])) == set(best), i
        assert stored[i, best] == pytest.approx(co[i, best])
    np.testing.assert_array_equal(pool.n, n)


def test_segment_popularity_shrinks_towards_everyone():
    h = _history(
        [(1, "a", "2011-01-01"), (2, "a", "2011-01-01"), (3, "b", "2011-01-01"), (4, "b", "2011-01-01")]
    )
    segment_of = np.array([0, 0, 1, -1])  # customers 1, 2 in segment 0; 3 in 1; 4 in none
    shares = signals.segment_popularity(h, segment_of, 2, None, shrink=2.0)
    # overall shares: a 2/4, b 2/4. segment 0 (2 customers, both a): a (2 + 2 * 0.5) / (2 + 2) = 0.75
    assert shares[0, :2].tolist() == pytest.approx([0.75, 0.25])
    assert shares[2, :2].tolist() == pytest.approx([0.5, 0.5])  # the last row: everyone


# --- the protocol: a fit before the split sees nothing on or after it -------------------------------

SPLIT = pd.Timestamp("2011-03-01")


def _shop(with_future: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(2)
    products = pd.DataFrame(
        {
            "product_id": [f"p{i:02d}" for i in range(20)] + ["zz"],
            "description": [
                f"{w} {c} MUG" for w, c in zip("RED BLUE GREEN PINK".split() * 5, range(20), strict=False)
            ]
            + ["RED MUG NEW IN MARCH"],
        }
    )
    days = pd.date_range("2011-01-01", "2011-02-28")
    rows = [
        (int(c), f"p{int(p):02d}", d, 1, 1)
        for c, p, d in zip(
            rng.integers(1, 30, 400), rng.integers(0, 20, 400), rng.choice(days, 400), strict=True
        )
    ]
    if with_future:  # after the split: more of the same products, and a product first sold then
        later = pd.date_range("2011-03-01", "2011-03-30")
        rows += [
            (int(c), f"p{int(p):02d}", d, 5, 9)
            for c, p, d in zip(
                rng.integers(1, 40, 200), rng.integers(0, 20, 200), rng.choice(later, 200), strict=True
            )
        ]
        rows += [(3, "zz", pd.Timestamp("2011-03-02"), 1, 1), (7, "zz", pd.Timestamp("2011-03-05"), 1, 1)]
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "invoice_date", "invoices", "quantity"])
    frame = frame.groupby(["customer_id", "product_id", "invoice_date"], as_index=False).sum()
    return frame, products


def test_nothing_on_or_after_the_split_reaches_the_fit():
    before = protocol.make_fit(*_shop(False), SPLIT, None)
    with_future = protocol.make_fit(*_shop(True), SPLIT, None)
    a, b = before.history, with_future.history
    assert (
        a.product_ids.tolist() == b.product_ids.tolist() and "zz" not in b.product_ids
    )  # sold later: unknown
    assert a.customer_ids.tolist() == b.customer_ids.tolist()
    assert (a.bought != b.bought).nnz == 0 and (a.weighted(30.0) != b.weighted(30.0)).nnz == 0
    np.testing.assert_array_equal(a.popularity(7.0), b.popularity(7.0))
    # neighbours, content (TF-IDF vocabulary of the products sold before), similar customers
    assert (before.item_pool().counts != with_future.item_pool().counts).nnz == 0
    assert abs(before.content() - with_future.content()).max() == 0
    assert (before.similar_customers(7.0).matrix != with_future.similar_customers(7.0).matrix).nnz == 0
    # so every list is the same
    rows = np.arange(a.n_customers)
    for name in ("item_knn", "recent_popularity", "content_only", "user_knn"):
        method = baselines.METHODS[name]
        np.testing.assert_array_equal(
            method.lists(before, method.defaults, rows, 10, "discover").cols,
            method.lists(with_future, method.defaults, rows, 10, "discover").cols,
        )
    spec = recommender.default_spec("discover")
    pd.testing.assert_frame_equal(
        recommender.lists(before, spec, 10), recommender.lists(with_future, spec, 10)
    )


def test_capped_bought_keeps_each_heavy_customers_most_recent_products():
    # customer 1 bought a (10 days ago), b (2 and 8 days ago: last 2), c (5), d (1): with a cap
    # of 2 they keep d and b; customer 2 (a, c) is under the cap and keeps both; ties of the
    # same day go to the smaller column (customer 3: a and b on one day, c earlier -> a, b)
    h = _history(
        [
            (1, "a", "2011-01-01"),
            (1, "b", "2011-01-03"),
            (1, "b", "2011-01-09"),
            (1, "c", "2011-01-06"),
            (1, "d", "2011-01-10"),
            (2, "a", "2010-12-01"),
            (2, "c", "2010-12-02"),
            (3, "c", "2011-01-01"),
            (3, "b", "2011-01-05"),
            (3, "a", "2011-01-05"),
        ]
    )
    capped = h.capped_bought(2)
    assert capped.toarray().tolist() == [[0, 1, 0, 1], [1, 0, 1, 0], [1, 1, 0, 0]]
    assert h.capped_bought(4) is h.bought  # nobody above the cap: the same matrix
