"""The vectorised top-n pieces, on matrices small enough to check by hand or by brute force."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from include.ml import ranking

pytestmark = pytest.mark.unit


def test_first_unbought_skips_what_each_customer_bought():
    order = np.array([3, 1, 0, 2, 4])  # the ranking: product 3 first, then 1, 0, 2, 4
    bought = sparse.csr_matrix(
        np.array(
            [
                [0, 1, 0, 1, 0],  # bought 1 and 3, the two best: the list starts at 0
                [0, 0, 0, 0, 0],  # nothing: the ranking itself
                [1, 1, 1, 1, 1],  # everything: no product left
                [0, 0, 0, 0, 1],  # the last one
            ]
        )
    )
    got = ranking.first_unbought(order, bought, 3)
    assert got.tolist() == [[0, 2, 4], [3, 1, 0], [-1, -1, -1], [3, 1, 0]]
    assert ranking.first_unbought(order, bought, 5)[3].tolist() == [3, 1, 0, 2, -1]


def test_first_unbought_equals_the_plain_loop_on_random_histories():
    rng = np.random.default_rng(3)
    bought = sparse.random(60, 40, density=0.3, format="csr", random_state=rng)
    order = rng.permutation(40)
    got = ranking.first_unbought(order, bought, 12)
    for r in range(60):
        owned = set(bought[r].indices)
        expected = [p for p in order if p not in owned][:12]
        assert got[r][got[r] >= 0].tolist() == expected


def test_top_n_product_excludes_bought_and_breaks_ties_to_the_smaller_column():
    left = sparse.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]))
    right = sparse.csr_matrix(np.array([[1.0, 1.0, 1.0, 0.0], [0.0, 2.0, 0.0, 1.0]]))
    exclude = sparse.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0]]))
    top = ranking.top_n_product(left, right, 2, exclude=exclude)
    # row 0 scores (1, 1, 1, 0), column 0 bought: 1 and 2 tie, the smaller first
    # row 1 scores (0, 2, 0, 1): 1 then 3
    assert top.cols.tolist() == [[1, 2], [1, 3]]
    assert top.scores.tolist() == [[1.0, 1.0], [2.0, 1.0]]


def test_top_n_sparse_and_dense_equal_brute_force():
    rng = np.random.default_rng(5)
    matrix = sparse.random(80, 300, density=0.05, format="csr", random_state=rng)
    dense = matrix.toarray()
    for top in (
        ranking.top_n_sparse(matrix, 7, positive_only=True),
        ranking.top_n_dense(np.where(dense > 0, dense, -np.inf), 7),
    ):
        for r in range(80):
            row = dense[r]
            expected = [j for j in np.lexsort((np.arange(300), -row)) if row[j] > 0][:7]
            assert top.cols[r][top.cols[r] >= 0].tolist() == expected


def test_top_n_sparse_sorts_long_rows_too():
    # one row far longer than the others takes the sort path instead of the padded block
    data = np.concatenate([np.arange(1, 501, dtype=float), [5.0, 3.0]])
    rows = np.concatenate([np.zeros(500, dtype=int), [1, 2]])
    cols = np.concatenate([np.arange(500), [7, 9]])
    matrix = sparse.csr_matrix((data, (rows, cols)), shape=(3, 600))
    top = ranking.top_n_sparse(matrix, 3)
    assert top.cols.tolist() == [[499, 498, 497], [7, -1, -1], [9, -1, -1]]


def test_fill_completes_short_lists_without_duplicates():
    top = ranking.TopN(np.array([[4, -1, -1], [-1, -1, -1]]), np.array([[0.9, np.nan, np.nan], [np.nan] * 3]))
    fallback = np.array([[4, 2, 1], [0, -1, -1]])
    got = ranking.fill(top, fallback, 3)
    assert got.cols.tolist() == [[4, 2, 1], [0, -1, -1]]
    assert got.scores[0, 0] == 0.9 and np.isnan(got.scores[0, 1])


def test_values_at_reads_a_matrix_on_another_pattern():
    pattern = ranking.canonical(sparse.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]])))
    matrix = ranking.canonical(sparse.csr_matrix(np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0]])))
    assert ranking.values_at(pattern, matrix).tolist() == [0.0, 2.0, 0.0, 5.0]
