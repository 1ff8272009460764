"""Item-item similarity without a dense products x products matrix.

Both methods reduce to the same kernel: rows are items described by sparse feature vectors
(TF-IDF of the description, or the customers who bought the item); rows are L2-normalised, so
the dot product is the cosine; a block of `block_rows` items is multiplied by the transpose of
all items by the sparse_dot_topn kernel, which keeps only the top k + 1 of every row while it
multiplies (no block x items result is materialised). Peak memory is one sparse block result plus the kept k per item, so it grows
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
    """The k largest positive entries of every row of a sparse block, in one vectorised pass.

    Ties are broken by the smaller column index, so the result is deterministic and does not
    depend on the storage order. `exclude[i]` (a column per row, e.g. the item itself) is
    never returned. Returns (rows + row_offset, columns, ranks starting at 1, scores).
    """
    block = sparse.csr_matrix(block)
    lengths = np.diff(block.indptr)
    rows = np.repeat(np.arange(block.shape[0], dtype=np.int64), lengths)
    cols = block.indices.astype(np.int64)
    values = block.data
    keep = values > 0
    if exclude is not None:
        keep &= cols != np.asarray(exclude)[rows]
    rows, cols, values = rows[keep], cols[keep], values[keep]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    first = np.searchsorted(rows, rows, side="left")
    rank = np.arange(len(rows)) - first + 1
    top = rank <= k
    return rows[top] + row_offset, cols[top], rank[top].astype(np.int64), values[top]


def blocked_top_k_cosine(
    features: sparse.spmatrix,
    k: int = config.TOP_K_SIMILAR,
    block_rows: int = config.SIMILARITY_BLOCK_ROWS,
    rows: tuple[int, int] | None = None,
) -> TopK:
    """Top-k cosine neighbours of every row of `features` (items x features), self excluded;
    with `rows` = (start, stop), of those rows only (against every item: a row's neighbours do
    not depend on which rows are computed with it, so blocks of rows computed apart add up to
    the whole, exactly).

    Works on `block_rows` items at a time: the sparse_dot_topn kernel multiplies the normalised
    block by the normalised transpose keeping only the best k + 1 of each row (never a dense
    block, never items x items), a relative perturbation of 1e-9 per column making ties at the
    cut keep the smaller index; `top_k_per_row` then drops the item itself and ranks.
    """
    from sparse_dot_topn import sp_matmul_topn

    started = time.monotonic()
    normalised = l2_normalise_rows(features)
    n = normalised.shape[0]
    tie = 1.0 - 1e-9 * np.arange(n) / max(n, 1)
    transposed = sparse.csr_matrix(normalised.T @ sparse.diags(tie))
    # filled block by block; np.empty commits memory only where written, and no list of parts
    # is concatenated at the end (that doubled the peak: 1M customers x 100 neighbours)
    first, last = (0, n) if rows is None else (max(0, rows[0]), min(n, rows[1]))
    item, neighbour, rank = (np.empty(max(last - first, 0) * k, dtype=np.int32) for _ in range(3))
    score = np.empty(max(last - first, 0) * k, dtype=np.float64)
    filled = 0
    for start in range(first, last, block_rows):
        stop = min(start + block_rows, last)
        block = sp_matmul_topn(normalised[start:stop], transposed, top_n=min(k + 1, n), threshold=0.0)
        block = sparse.csr_matrix(block)
        block.data = block.data / tie[block.indices]
        part = top_k_per_row(block, k, row_offset=start, exclude=np.arange(start, stop))
        end = filled + len(part[0])
        for target, values in zip((item, neighbour, rank, score), part, strict=True):
            target[filled:end] = values
        filled = end
    item, neighbour, rank, score = (a[:filled] for a in (item, neighbour, rank, score))
    log.info(
        "top-%d cosine of %d of %d items (%d features) in %d block(s) of %d: %d pairs in %.2f s",
        k,
        max(last - first, 0),
        n,
        features.shape[1],
        max(1, -(-(last - first) // block_rows)),
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


@dataclass(frozen=True)
class DescriptionTokens:
    """Raw n-gram counts of every description (tokenised once; each fit takes its products'
    rows and builds its own vocabulary and IDF from them, see `description_features`)."""

    words: sparse.csr_matrix  # products x word 1-2-grams
    chars: sparse.csr_matrix  # products x character 3-5-grams within words


_WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern


def _word_ngrams(text: str) -> list[str]:
    """Word 1- and 2-grams of a cleaned description (as CountVectorizer(analyzer='word',
    ngram_range=(1, 2)) makes them)."""
    words = _WORD.findall(text)
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def _char_wb_ngrams(text: str, low: int = 3, high: int = 5) -> list[str]:
    """Character n-grams inside words padded with a space (CountVectorizer(analyzer='char_wb'))."""
    grams = []
    for word in text.split():
        padded = f" {word} "
        length = len(padded)
        for n in range(low, high + 1):
            grams.extend(padded[i : i + n] for i in range(max(1, length - n + 1)))
            if length <= n:  # the whole padded word was the n-gram: longer ones would repeat it
                break
    return grams


def _counts(documents: list[list[str]]) -> sparse.csr_matrix:
    """documents x sorted vocabulary counts."""
    vocabulary: dict[str, int] = {}
    indices, indptr = [], [0]
    for grams in documents:
        indices.extend(vocabulary.setdefault(g, len(vocabulary)) for g in grams)
        indptr.append(len(indices))
    terms = sorted(vocabulary)
    remap = np.empty(len(vocabulary), dtype=np.int64)
    remap[[vocabulary[t] for t in terms]] = np.arange(len(terms))
    matrix = sparse.csr_matrix(
        (np.ones(len(indices)), remap[np.asarray(indices, dtype=np.int64)], np.asarray(indptr)),
        shape=(len(documents), len(terms)),
    )
    matrix.sum_duplicates()
    return matrix


def description_tokens(descriptions: pd.Series) -> DescriptionTokens:
    """The n-gram counts of every description (the tokens scikit-learn's CountVectorizer
    makes, without importing scikit-learn into the recommendation tasks)."""
    cleaned = descriptions.fillna("").map(clean_description).tolist()
    return DescriptionTokens(
        _counts([_word_ngrams(t) for t in cleaned]), _counts([_char_wb_ngrams(t) for t in cleaned])
    )


def _tfidf(counts: sparse.csr_matrix, min_df: int, max_df: int) -> sparse.csr_matrix:
    """TfidfVectorizer(sublinear_tf=True, min_df, max_df) of these rows' counts: the vocabulary
    is the n-grams with min_df <= document frequency <= max_df among these rows, idf =
    ln((1 + n) / (1 + df)) + 1, tf = 1 + ln(count), rows L2-normalised."""
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    df = np.asarray((counts > 0).sum(axis=0)).ravel()
    keep = np.flatnonzero((df >= min_df) & (df <= max_df))
    tf = sparse.csr_matrix(counts[:, keep])
    tf.data = 1.0 + np.log(tf.data)
    idf = np.log((1.0 + counts.shape[0]) / (1.0 + df[keep])) + 1.0
    return l2_normalise_rows(tf @ sparse.diags(idf))


def description_features(
    descriptions: pd.Series | None,
    max_products: int = COMMON_NGRAM_PRODUCTS,
    tokens: DescriptionTokens | None = None,
    rows: np.ndarray | None = None,
) -> sparse.csr_matrix:
    """TF-IDF of the cleaned descriptions: word 1-2-grams plus character 3-5-grams (within
    words, so that 'heart'/'hearts' and 'tlight'/'t light' still meet), each block
    L2-normalised, weighted equally. N-grams in more than `max_products` descriptions are
    left out (see COMMON_NGRAM_PRODUCTS); character n-grams need two descriptions.

    With `tokens` (and `rows`, the products of this catalogue) the tokenisation of a larger
    catalogue is reused: vocabulary and IDF come from these rows only, the same as fitting on
    their descriptions alone (an evaluation fit sees only the products sold before its split)."""
    tokens = tokens or description_tokens(descriptions)
    words, chars = tokens.words, tokens.chars
    if rows is not None:
        words, chars = words[rows], chars[rows]
    return sparse.hstack([_tfidf(words, 1, max_products), _tfidf(chars, 2, max_products)], format="csr")


def content_top_k(descriptions: pd.Series, k: int, rows: tuple[int, int] | None = None) -> TopK:
    """The `k` products most similar to each product by TF-IDF cosine of their descriptions (the
    content method of marts.product_similarity), in the order of `descriptions`; with `rows`
    = (start, stop), of those products only (vocabulary and IDF still of every description)."""
    features = description_features(None, tokens=description_tokens(descriptions))
    return blocked_top_k_cosine(features, k=k, rows=rows)


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
