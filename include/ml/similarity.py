"""Item-item similarity without a dense products x products matrix.

Both methods reduce to the same kernel: rows are items described by sparse feature vectors
(TF-IDF of the description, or the customers who bought the item); rows are L2-normalised, so
the dot product is the cosine; a block of `block_rows` items is multiplied by the transpose of
all items (a sparse block x items result), and only the top k of every row are kept
(`np.partition`). Peak memory is one sparse block result plus the kept k per item, so it grows
with the number of items, not with its square. The time grows with the pairs of items that
share a feature: n-grams common to a large part of the catalogue are capped
(COMMON_NGRAM_PRODUCTS) so that the content similarity stays linear too.
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

    item: np.ndarray  # row index of the item (int32: k pairs per item add up for 1M customers)
    neighbour: np.ndarray  # row index of the neighbour
    rank: np.ndarray  # 1 = most similar
    score: np.ndarray  # cosine in (0, 1]

    def to_sparse(self, n_items: int) -> sparse.csr_matrix:
        """The neighbours as a sparse items x items matrix of scores (k entries per row).

        Built straight as CSR from the (item, rank) order: no coordinate-format copy."""
        indptr = np.zeros(n_items + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.item, minlength=n_items), out=indptr[1:])
        matrix = sparse.csr_matrix(
            (self.score, self.neighbour, indptr), shape=(n_items, n_items), copy=True
        )  # copied: sort_indices must not reorder this TopK's arrays
        matrix.sort_indices()
        return matrix


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
    block = sparse.csr_matrix(block)  # indices need not be sorted: the lexsort below orders ties
    rows, cols, ranks, scores = [], [], [], []
    indptr, indices, data = block.indptr, block.indices, block.data
    for i in range(block.shape[0]):
        lo, hi = indptr[i], indptr[i + 1]
        c, v = indices[lo:hi], data[lo:hi]
        if len(v) > k + 1:
            # the k best after dropping exclude[i] and values <= 0 are among the k + 1 largest:
            # cut the row to those first (ties at the boundary all enter), then filter
            kth = np.partition(v, len(v) - k - 1)[len(v) - k - 1]
            candidates = v >= kth
            c, v = c[candidates], v[candidates]
        keep = v > 0
        if exclude is not None:
            keep &= c != exclude[i]
        c, v = c[keep], v[keep]
        if len(v) == 0:
            continue
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
    # filled block by block; np.empty commits memory only where written, and no list of parts
    # is concatenated at the end (that doubled the peak: 1M customers x 100 neighbours)
    item, neighbour, rank = (np.empty(n * k, dtype=np.int32) for _ in range(3))
    score = np.empty(n * k, dtype=np.float64)
    filled = 0
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        block = normalised[start:stop] @ transposed
        part = top_k_per_row(block, k, row_offset=start, exclude=np.arange(start, stop))
        end = filled + len(part[0])
        for target, values in zip((item, neighbour, rank, score), part, strict=True):
            target[filled:end] = values
        filled = end
    item, neighbour, rank, score = (a[:filled] for a in (item, neighbour, rank, score))
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


# An n-gram in more than this many product descriptions is ignored by the content similarity.
# It cannot single out a product's TOP_K_SIMILAR neighbours (rarer n-grams decide those), but
# every two products sharing it cost a pair in the blocked product: char 3-grams such as ' se'
# or 'et ' are in a fixed share of any catalogue, so without a cap the work grows with the
# square of the catalogue (60 % of all pairs at 100,000 synthetic products). With the cap a
# product meets at most (its n-grams x the cap) others: linear. Online Retail (3,812 products)
# has no n-gram that common (the commonest, 'er ', is in < 1,000), so its neighbours are
# unchanged; at 100,000 synthetic products 97 % of a product's variants stay in its top 20.
COMMON_NGRAM_PRODUCTS = config.CONTENT_MAX_NGRAM_PRODUCTS


def description_features(
    descriptions: pd.Series, max_products: int = COMMON_NGRAM_PRODUCTS
) -> sparse.csr_matrix:
    """TF-IDF of the cleaned descriptions: word 1-2-grams plus character 3-5-grams (within
    words, so that 'heart'/'hearts' and 'tlight'/'t light' still meet), each block
    L2-normalised, weighted equally. N-grams in more than `max_products` descriptions are
    left out (see COMMON_NGRAM_PRODUCTS)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    cleaned = descriptions.fillna("").map(clean_description)
    common = {"sublinear_tf": True, "max_df": max_products}  # an int: a count of descriptions
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=1, **common)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, **common)
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
