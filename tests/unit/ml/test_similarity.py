"""Blocked sparse top-k cosine: the same answer as brute force, without a dense items x items."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from include.ml import similarity

pytestmark = pytest.mark.unit


def _brute_force(features: sparse.csr_matrix, k: int) -> set[tuple[int, int, int]]:
    dense = features.toarray()
    norms = np.linalg.norm(dense, axis=1)
    norms[norms == 0] = 1
    unit = dense / norms[:, None]
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, 0)
    expected = set()
    for i, row in enumerate(cosine):
        order = [j for j in np.lexsort((np.arange(len(row)), -row)) if row[j] > 0][:k]
        expected |= {(i, j, r + 1) for r, j in enumerate(order)}
    return expected


@pytest.mark.parametrize("block_rows", [1, 7, 50, 1000])
def test_blocked_top_k_equals_brute_force(block_rows):
    rng = np.random.default_rng(7)
    features = sparse.random(120, 40, density=0.3, format="csr", random_state=rng)  # no exact ties
    result = similarity.blocked_top_k_cosine(features, k=5, block_rows=block_rows)
    got = set(zip(result.item.tolist(), result.neighbour.tolist(), result.rank.tolist(), strict=True))
    assert got == _brute_force(features, 5)
    assert not (result.item == result.neighbour).any(), "an item is never its own neighbour"
    assert np.all((result.score > 0) & (result.score <= 1))


def test_scores_are_the_cosines():
    # items 0 and 1 share one of two features each: cosine = 1 / (sqrt(2) * sqrt(2)) = 0.5
    features = sparse.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    result = similarity.blocked_top_k_cosine(features, k=3, block_rows=2)
    assert result.item.tolist() == [0, 1]
    assert result.neighbour.tolist() == [1, 0]
    assert result.score == pytest.approx([0.5, 0.5])


def test_ties_break_on_the_smaller_index():
    # item 0 is equally similar to items 1, 2 and 3; with k = 2 it keeps 1 and 2
    features = sparse.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]))
    result = similarity.blocked_top_k_cosine(features, k=2, block_rows=3)
    assert result.neighbour[result.item == 0].tolist() == [1, 2]


def test_never_builds_a_dense_items_by_items_matrix(monkeypatch):
    """Every product the kernel computes is at most block_rows x items, and stays sparse."""
    shapes = []
    original = similarity.top_k_per_row

    def spy(block, *args, **kwargs):
        assert sparse.issparse(block)
        shapes.append(block.shape)
        return original(block, *args, **kwargs)

    monkeypatch.setattr(similarity, "top_k_per_row", spy)
    features = sparse.random(500, 60, density=0.05, format="csr", random_state=1)
    similarity.blocked_top_k_cosine(features, k=3, block_rows=64)
    assert shapes and all(rows <= 64 and cols == 500 for rows, cols in shapes)
    assert len(shapes) == 8  # ceil(500 / 64)


def test_description_features_make_variants_neighbours():
    products = pd.Series(
        [
            "WHITE HANGING HEART T-LIGHT HOLDER",
            "RED HANGING HEART T-LIGHT HOLDER",
            "SET OF 3 CAKE TINS PANTRY DESIGN",
            "JUMBO BAG RED RETROSPOT",
        ]
    )
    result = similarity.blocked_top_k_cosine(similarity.description_features(products), k=1)
    first = dict(zip(result.item.tolist(), result.neighbour.tolist(), strict=True))
    assert first[0] == 1 and first[1] == 0


def test_clean_description():
    assert similarity.clean_description("SET/6 RED SPOTTY PAPER CUPS") == "set 6 red spotty paper cups"
    assert similarity.clean_description(None) == ""


@pytest.mark.parametrize("cuts", [[0, 120], [0, 33, 34, 120], [0, 50, 97, 120]])
def test_row_ranges_computed_apart_add_up_to_the_whole_exactly(cuts):
    """The mapped build_similarity computes a range of rows per task: the ranges concatenated are
    the single computation, scores bit for bit (a row's neighbours do not depend on its block)."""
    rng = np.random.default_rng(3)
    features = sparse.random(120, 40, density=0.3, format="csr", random_state=rng)
    whole = similarity.blocked_top_k_cosine(features, k=5, block_rows=16)
    parts = [
        similarity.blocked_top_k_cosine(features, k=5, block_rows=16, rows=(start, stop))
        for start, stop in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    for name in ("item", "neighbour", "rank", "score"):
        joined = np.concatenate([getattr(p, name) for p in parts])
        assert np.array_equal(joined, getattr(whole, name)), name
    assert set(parts[-1].item.tolist()) <= set(range(cuts[-2], cuts[-1]))
