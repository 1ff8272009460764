"""Vectorised top-n building blocks of every recommendation list (no Python loop per row).

A list is a `TopN`: for each of `rows` customers, up to `n` product columns (-1 pads a shorter
list) with their scores, best first. Lists come from three kinds of scores:

- a product of sparse matrices (history @ item neighbours, ...): `top_n_product` asks the
  sparse_dot_topn kernel for the n best columns of each row of A @ B, the customer's bought
  products pushed below zero through one extra block (A | -big * bought) @ (B ; I), so they
  never enter the list;
- scores on a sparse candidate pattern (the hybrid's candidates, a customer's history):
  `top_n_sparse`, one vectorised pass per block (padded rows, or a sort for long rows);
- dense scores of a block of customers (EASE, ALS): `top_n_dense` (argpartition).

`first_unbought` fills a list from a product ranking (popularity), skipping what the customer
bought, exactly: the j-th free product of a ranking is found by a binary search over the
customer's bought ranks, not by scoring "the top 200 then removing the bought ones".
Ties are broken by the smaller column, so every list is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class TopN:
    """Lists of `rows` customers: cols[r] best first (-1 = no product), scores alike (nan)."""

    cols: np.ndarray  # rows x n, int64
    scores: np.ndarray  # rows x n, float64

    @property
    def n(self) -> int:
        return self.cols.shape[1]

    def lengths(self) -> np.ndarray:
        return (self.cols >= 0).sum(axis=1)

    def long_form(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(row, col, rank starting at 1, score) of every listed product."""
        row, pos = np.nonzero(self.cols >= 0)
        return row, self.cols[row, pos], pos + 1, self.scores[row, pos]


def empty_top_n(rows: int, n: int) -> TopN:
    return TopN(np.full((rows, n), -1, dtype=np.int64), np.full((rows, n), np.nan))


def _order_small(cols: np.ndarray, scores: np.ndarray) -> TopN:
    """Sort each row of a small rows x m candidate block by (-score, col); invalid (-1) last.

    One stable sort by score; the rare rows where equal scores are out of column order are
    re-sorted by (score, column)."""
    valid = cols >= 0
    keyed = np.where(valid, scores, -np.inf)
    order = np.argsort(-keyed, axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    keyed = np.take_along_axis(keyed, order, axis=1)
    if cols.shape[1] > 1:
        bad = ((keyed[:, 1:] == keyed[:, :-1]) & (cols[:, 1:] < cols[:, :-1]) & (cols[:, 1:] >= 0)).any(
            axis=1
        )
        if bad.any():
            idx = np.flatnonzero(bad)
            key_col = np.where(cols[idx] >= 0, cols[idx], np.iinfo(np.int64).max)
            fix = np.lexsort((key_col, -keyed[idx]), axis=1)
            cols[idx] = np.take_along_axis(cols[idx], fix, axis=1)
            keyed[idx] = np.take_along_axis(keyed[idx], fix, axis=1)
    return TopN(cols, np.where(cols >= 0, keyed, np.nan))


def _dense_candidates(scores: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, values) of the m best finite entries of each row (any order; -1: none),
    exact ties at the cut resolved towards the smaller position."""
    rows, width = scores.shape
    if m < width:
        part = np.argpartition(-scores, m - 1, axis=1)[:, :m]
    else:
        part = np.broadcast_to(np.arange(width), (rows, width)).copy()
    values = np.take_along_axis(scores, part, axis=1)
    if m < width:  # exact ties at the cut: recompute those rows with a stable sort
        kth = values.min(axis=1)
        tied = np.isfinite(kth) & (
            (scores == kth[:, None]).sum(axis=1) > (values == kth[:, None]).sum(axis=1)
        )
        if tied.any():
            idx = np.flatnonzero(tied)
            stable = np.argsort(-scores[idx], axis=1, kind="stable")[:, :m]
            part[idx] = stable
            values[idx] = np.take_along_axis(scores[idx], stable, axis=1)
    return np.where(np.isfinite(values), part, -1).astype(np.int64), values


def top_n_dense(scores: np.ndarray, n: int) -> TopN:
    """The n best finite columns of every row of a dense block (-inf: excluded)."""
    rows, width = scores.shape
    m = min(n, width)
    if m == 0 or rows == 0:
        return empty_top_n(rows, n)
    cols, values = _dense_candidates(scores, m)
    return _pad(_order_small(cols, values.astype(np.float64)), n)


def _pad(top: TopN, n: int) -> TopN:
    if top.n >= n:
        return TopN(top.cols[:, :n], top.scores[:, :n])
    rows = top.cols.shape[0]
    pad_c = np.full((rows, n - top.n), -1, dtype=np.int64)
    return TopN(np.hstack([top.cols, pad_c]), np.hstack([top.scores, np.full(pad_c.shape, np.nan)]))


def top_n_sparse(
    matrix: sparse.csr_matrix, n: int, positive_only: bool = False, ordered: bool = True
) -> TopN:
    """The n best stored entries of every row of a CSR matrix (explicit zeros count as
    candidates unless `positive_only`), best first, ties to the smaller column (ordered=False:
    the same entries in any order, cheaper when only the set matters)."""
    matrix = sparse.csr_matrix(matrix)
    rows = matrix.shape[0]
    lengths = np.diff(matrix.indptr)
    data, indices = matrix.data, matrix.indices.astype(np.int64)
    if positive_only:
        keep = data > 0
        if not keep.all():
            matrix = sparse.csr_matrix(
                (data[keep], indices[keep], _indptr_after(matrix.indptr, keep)), shape=matrix.shape
            )
            lengths, data, indices = np.diff(matrix.indptr), matrix.data, matrix.indices.astype(np.int64)
    if rows == 0 or lengths.max(initial=0) == 0:
        return empty_top_n(rows, n)
    width = int(lengths.max())
    row_of = np.repeat(np.arange(rows), lengths)
    if rows * width <= 4 * len(data) + 4096:  # padded block: one argpartition per block
        pos = np.arange(len(data)) - np.repeat(matrix.indptr[:-1], lengths)
        block = np.full((rows, width), -np.inf)
        block[row_of, pos] = data
        col_block = np.full((rows, width), -1, dtype=np.int64)
        col_block[row_of, pos] = indices
        pos, values = _dense_candidates(block, min(n, width))
        picked = np.where(pos >= 0, np.take_along_axis(col_block, np.maximum(pos, 0), axis=1), -1)
        if not ordered:
            return _pad(TopN(picked, np.where(picked >= 0, values, np.nan)), n)
        return _pad(_order_small(picked, values), n)
    # long rows (a heavy buyer's history): one sort of all entries by (row, -score, col)
    order = np.lexsort((indices, -data, row_of))
    row_sorted = row_of[order]
    rank = np.arange(len(order)) - matrix.indptr[row_sorted]
    keep = rank < n
    cols = np.full((rows, n), -1, dtype=np.int64)
    scores = np.full((rows, n), np.nan)
    cols[row_sorted[keep], rank[keep]] = indices[order][keep]
    scores[row_sorted[keep], rank[keep]] = data[order][keep]
    return TopN(cols, scores)


def _indptr_after(indptr: np.ndarray, keep: np.ndarray) -> np.ndarray:
    kept = np.concatenate([[0], np.cumsum(keep)])
    return kept[indptr]


@dataclass(frozen=True)
class Right:
    """The right-hand side of `top_n_product`, prepared once and reused for many blocks of
    customers: columns perturbed for the tie-break, identity rows appended for the exclusion."""

    matrix: sparse.csr_matrix  # (right @ diag(tie)) on top of an identity of n_cols rows
    n_rows: int  # rows of the original right-hand side
    tie: np.ndarray
    max_abs: float


def prepare_right(right: sparse.csr_matrix) -> Right:
    right = sparse.csr_matrix(right, dtype=np.float64)
    n_cols = right.shape[1]
    tie = 1.0 - 1e-9 * np.arange(n_cols) / max(n_cols, 1)
    stacked = sparse.vstack([right @ sparse.diags(tie), sparse.identity(n_cols, format="csr")], format="csr")
    return Right(stacked, right.shape[0], tie, float(np.abs(right.data).max(initial=0.0)))


def product(left: sparse.csr_matrix, right: Right) -> sparse.csr_matrix:
    """left @ right (the prepared matrix, tie perturbation of at most 1e-9 included)."""
    left = sparse.csr_matrix(left, dtype=np.float64)
    padded = sparse.hstack([left, sparse.csr_matrix((left.shape[0], right.matrix.shape[1]))], format="csr")
    return sparse.csr_matrix(padded @ right.matrix)


def top_n_product(
    left: sparse.csr_matrix,
    right: sparse.csr_matrix | Right,
    n: int,
    exclude: sparse.csr_matrix | None = None,
    threads: int = 1,
) -> TopN:
    """The n largest positive entries of each row of left @ right, never a column stored in
    `exclude` (same rows as `left`), by the sparse_dot_topn kernel (no dense block, no
    Python loop per row): the excluded columns are pushed below zero through one extra block,
    (left | -big * exclude) @ (right ; I). Ties at the cut are broken towards the smaller
    column by a relative perturbation of 1e-9 of the right-hand side (scores are returned
    unperturbed). Pass a `prepare_right` result to reuse the right-hand side across blocks."""
    from sparse_dot_topn import sp_matmul_topn

    prepared = right if isinstance(right, Right) else prepare_right(right)
    left = sparse.csr_matrix(left, dtype=np.float64)
    n_rows, n_cols = left.shape[0], prepared.matrix.shape[1]
    if n_rows == 0 or left.nnz == 0 or prepared.max_abs == 0:
        return empty_top_n(n_rows, n)
    if exclude is not None and exclude.nnz:
        row_sum = np.asarray(abs(left).sum(axis=1)).ravel().max()
        marks = sparse.csr_matrix(exclude, dtype=np.float64, copy=True)
        marks.data[:] = -2.0 * (row_sum * prepared.max_abs + 1.0)
    else:
        marks = sparse.csr_matrix((n_rows, n_cols))
    left = sparse.hstack([left, marks], format="csr")
    product = sp_matmul_topn(
        left, prepared.matrix, top_n=min(n, n_cols), threshold=0.0, sort=True, n_threads=threads
    )
    top = top_n_sparse(product, n, positive_only=True)
    scores = np.where(top.cols >= 0, top.scores / prepared.tie[np.maximum(top.cols, 0)], np.nan)
    return TopN(top.cols, scores)


def first_unbought(order: np.ndarray, bought: sparse.csr_matrix, n: int) -> np.ndarray:
    """For every row of `bought` (customers x products, stored = bought), the first n products
    of the ranking `order` (product columns, best first; products not in `order` are never
    returned) that the customer did not buy: rows x n columns, -1 when the ranking runs out.

    The j-th free position of the ranking is j + #{bought ranks h_i with h_i - i <= j}
    (h sorted, i from 0: h_i - i free positions lie before h_i), one binary search per row and
    j over all rows at once."""
    bought = sparse.csr_matrix(bought)
    rows, n_products = bought.shape
    rank_of = np.full(n_products, np.iinfo(np.int64).max // 4, dtype=np.int64)
    rank_of[order] = np.arange(len(order))
    lengths = np.diff(bought.indptr)
    row_of = np.repeat(np.arange(rows, dtype=np.int64), lengths)
    ranks = rank_of[bought.indices]
    in_order = ranks < len(order)
    row_of, ranks = row_of[in_order], ranks[in_order]
    sort = np.lexsort((ranks, row_of))
    row_of, ranks = row_of[sort], ranks[sort]
    starts = np.searchsorted(row_of, np.arange(rows))
    within = np.arange(len(ranks)) - starts[row_of]
    gaps = ranks - within  # free positions before each bought rank (non-decreasing per row)
    scale = np.int64(len(order) + n + 1)
    keys = row_of * scale + gaps
    j = np.arange(n, dtype=np.int64)
    queries = (np.arange(rows, dtype=np.int64)[:, None] * scale + j[None, :]).ravel()
    before = np.searchsorted(keys, queries, side="right").reshape(rows, n) - starts[:, None]
    position = j[None, :] + before
    out = np.full((rows, n), -1, dtype=np.int64)
    ok = position < len(order)
    out[ok] = np.asarray(order)[position[ok]]
    return out


def fill(top: TopN, fallback: np.ndarray, n: int | None = None) -> TopN:
    """Complete each list with the fallback columns (rows x m, in order, -1 = none) that are
    not in it yet, until it has n products (default: top.n). Filled entries score nan."""
    n = n or top.n
    cols = np.hstack([top.cols, fallback])
    scores = np.hstack([top.scores, np.full(fallback.shape, np.nan)])
    listed = top.cols
    dup = (fallback[:, :, None] == listed[:, None, :]).any(axis=2) & (fallback >= 0)
    valid = np.hstack([top.cols >= 0, (fallback >= 0) & ~dup])
    order = np.argsort(~valid, axis=1, kind="stable")[:, :n]
    cols = np.where(np.take_along_axis(valid, order, axis=1), np.take_along_axis(cols, order, axis=1), -1)
    scores = np.where(cols >= 0, np.take_along_axis(scores, order, axis=1), np.nan)
    return _pad(TopN(cols, scores), n)


def values_at(pattern: sparse.csr_matrix, matrix: sparse.csr_matrix) -> np.ndarray:
    """matrix's values at the stored entries of `pattern` (same shape), in pattern's storage
    order; 0 where matrix stores nothing. Both need canonical (sorted, summed) indices."""
    n_cols = np.int64(pattern.shape[1])
    p_rows = np.repeat(np.arange(pattern.shape[0], dtype=np.int64), np.diff(pattern.indptr))
    m_rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    p_keys = p_rows * n_cols + pattern.indices
    m_keys = m_rows * n_cols + matrix.indices
    pos = np.searchsorted(m_keys, p_keys)
    pos = np.minimum(pos, max(len(m_keys) - 1, 0))
    out = np.zeros(len(p_keys))
    if len(m_keys):
        hit = m_keys[pos] == p_keys
        out[hit] = matrix.data[pos[hit]]
    return out


def canonical(matrix: sparse.spmatrix) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix(matrix)
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


def top_n_to_csr(top: TopN, n_cols: int, values: str = "scores") -> sparse.csr_matrix:
    """The listed entries as a CSR (rows x n_cols); values: 'scores' or 'ones'."""
    row, col, _, score = top.long_form()
    data = np.ones(len(row)) if values == "ones" else np.nan_to_num(score)
    return canonical(sparse.csr_matrix((data, (row, col)), shape=(top.cols.shape[0], n_cols)))


def row_max_scale(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Every row divided by its largest value (rows then lie in [0, 1]; empty rows stay empty)."""
    matrix = sparse.csr_matrix(matrix, dtype=np.float64)
    top = matrix.max(axis=1).toarray().ravel()
    top[top <= 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / top) @ matrix)
