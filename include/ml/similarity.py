"""Item-item similarity without a dense products x products matrix.

Both methods reduce to the same kernel: rows are items described by sparse feature vectors
(TF-IDF of the description, or the customers who bought the item); rows are L2-normalised, so
the dot product is the cosine; a block of `block_rows` items is multiplied by the transpose of
all items (a sparse block x items result), and only the top k of every row are kept
(`argpartition`). Peak memory is one sparse block result plus the kept k per item, so it grows
with the number of items, not with its square.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from include import config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopK:
    """Top-k neighbours per item: parallel arrays, sorted by (item, rank)."""

    item: np.ndarray  # row index of the item
    neighbour: np.ndarray  # row index of the neighbour
    rank: np.ndarray  # 1 = most similar
    score: np.ndarray  # cosine in (0, 1]

    def to_sparse(self, n_items: int) -> sparse.csr_matrix:
        """The neighbours as a sparse items x items matrix of scores (k entries per row)."""
        return sparse.csr_matrix((self.score, (self.item, self.neighbour)), shape=(n_items, n_items))


def l2_normalise_rows(matrix: sparse.spmatrix) -> sparse.csr_matrix:
    """Rows scaled to unit Euclidean length (all-zero rows stay zero)."""
    matrix = sparse.csr_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def top_k_per_row(
    block: sparse.csr_matrix, k: int, row_offset: int = 0, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The k largest positive entries of every row of a sparse block.

    Ties are broken by the smaller column index, so the result is deterministic and does not
    depend on the storage order. `exclude[i]` (a column per row, e.g. the item itself) is
    never returned. Returns (rows + row_offset, columns, ranks starting at 1, scores).
    """
    block = sparse.csr_matrix(block)
    block.sort_indices()
    rows, cols, ranks, scores = [], [], [], []
    indptr, indices, data = block.indptr, block.indices, block.data
    for i in range(block.shape[0]):
        lo, hi = indptr[i], indptr[i + 1]
        c, v = indices[lo:hi], data[lo:hi]
        keep = v > 0
        if exclude is not None:
            keep &= c != exclude[i]
        c, v = c[keep], v[keep]
        if len(v) == 0:
            continue
        if len(v) > k:
            kth = np.partition(v, len(v) - k)[len(v) - k]  # k-th largest value
            candidates = v >= kth  # ties at the boundary all enter, then sorted by column
            c, v = c[candidates], v[candidates]
        order = np.lexsort((c, -v))[:k]
        rows.append(np.full(len(order), i + row_offset, dtype=np.int64))
        cols.append(c[order].astype(np.int64))
        ranks.append(np.arange(1, len(order) + 1, dtype=np.int64))
        scores.append(v[order])
    if not rows:
        empty = np.array([], dtype=np.int64)
        return empty, empty, empty, np.array([], dtype=np.float64)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(ranks), np.concatenate(scores)


def blocked_top_k_cosine(
    features: sparse.spmatrix, k: int = config.TOP_K_SIMILAR, block_rows: int = config.SIMILARITY_BLOCK_ROWS
) -> TopK:
    """Top-k cosine neighbours of every row of `features` (items x features), self excluded.

    Works on `block_rows` items at a time: normalised block @ normalised.T is a sparse
    block x items matrix; never items x items.
    """
    started = time.monotonic()
    normalised = l2_normalise_rows(features)
    transposed = sparse.csr_matrix(normalised.T)
    n = normalised.shape[0]
    parts = []
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        block = normalised[start:stop] @ transposed
        parts.append(top_k_per_row(block, k, row_offset=start, exclude=np.arange(start, stop)))
    if parts:
        item, neighbour, rank, score = (np.concatenate(p) for p in zip(*parts, strict=True))
    else:
        item = neighbour = rank = np.array([], dtype=np.int64)
        score = np.array([], dtype=np.float64)
    log.info(
        "top-%d cosine of %d items (%d features) in %d block(s) of %d: %d pairs in %.2f s",
        k,
        n,
        features.shape[1],
        max(1, -(-n // block_rows)),
        block_rows,
        len(item),
        time.monotonic() - started,
    )
    return TopK(item, neighbour, rank, np.clip(score, 0.0, 1.0))


_NOISE = re.compile(r"[^a-z0-9 ]+")


def clean_description(text: str) -> str:
    """Lower-case words only: 'SET/6 RED SPOTTY PAPER CUPS' -> 'set 6 red spotty paper cups'."""
    return " ".join(_NOISE.sub(" ", (text or "").lower()).split())


def description_features(descriptions: pd.Series) -> sparse.csr_matrix:
    """TF-IDF of the cleaned descriptions: word 1-2-grams plus character 3-5-grams (within
    words, so that 'heart'/'hearts' and 'tlight'/'t light' still meet), each block
    L2-normalised, weighted equally."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    cleaned = descriptions.fillna("").map(clean_description)
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)
    word_part = l2_normalise_rows(words.fit_transform(cleaned))
    char_part = l2_normalise_rows(chars.fit_transform(cleaned))
    return sparse.hstack([word_part, char_part], format="csr")


def purchase_features(
    customer_index: np.ndarray,
    product_index: np.ndarray,
    weights: np.ndarray,
    n_customers: int,
    n_products: int,
) -> sparse.csr_matrix:
    """Products x customers matrix of log(1 + weight) (weight: invoices of the customer with the
    product); the rows of two products bought by the same people point the same way."""
    matrix = sparse.csr_matrix(
        (weights.astype(np.float64), (product_index, customer_index)), shape=(n_products, n_customers)
    )
    matrix.sum_duplicates()  # several rows of one pair: their weights add up first
    matrix.data = np.log1p(matrix.data)
    return matrix
