"""The purchase history as matrices, and the signals the recommenders score with.

`History` holds the purchases (customer x product x day) dated before an as-of date: every
method and every signal of an evaluation split is fitted on one `History`, so nothing after
the split can leak into it. Its columns are the catalogue the lists may use (for an evaluation
split: the products sold before the split), its rows the customers with a purchase before it.

Signals (each pure, each linear in the interactions):

- popularity vectors: distinct buyers (all time or in the last N days), decayed purchases;
- item neighbours: a pool of candidate neighbours per product from the co-occurrence counts
  (three rankings, so that every tuned normalisation finds its top neighbours in the pool),
  re-weighted per trial (`item_knn_matrix`), RP3beta the same way;
- `similar_customers_matrix`: "what customers who buy like you bought lately" computed
  through item space (products x products), never customers x customers;
- user-kNN for a block of customers (neighbours of those customers only, popular products
  capped out of the similarity features so a product bought by 20 % of the customers does not
  make every block dense);
- EASE^R (dense products x products: evaluation baseline only, up to EASE_MAX_PRODUCTS) and
  implicit ALS factors.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from include import config
from include.ml import ranking

log = logging.getLogger(__name__)


@dataclass
class History:
    """Purchases before `as_of` at customer x product x day grain, indexed by row and column.

    The days are sorted by (customer, product, day) and grouped into purchase pairs (one per
    customer and product bought): every customers x products matrix shares the pairs' CSR
    pattern (`indptr`, `indices`) and differs only in its values, a bincount over the days."""

    as_of: pd.Timestamp
    product_ids: np.ndarray  # the catalogue: matrix columns
    customer_ids: np.ndarray  # customers with a purchase before as_of: matrix rows (sorted)
    row: np.ndarray  # customer row of each purchase day (int32, sorted)
    col: np.ndarray  # product column (int32)
    age: np.ndarray  # days from the purchase day to as_of (1 = the day before; float32)
    invoices: np.ndarray  # float32
    quantity: np.ndarray  # float32
    pair: np.ndarray = field(default=None, repr=False)  # purchase pair of each day (int32)
    indptr: np.ndarray = field(default=None, repr=False)  # CSR of the pairs (customers + 1)
    indices: np.ndarray = field(default=None, repr=False)  # product of each pair
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.pair is None:
            new = np.ones(len(self.row), dtype=bool)
            if len(self.row):
                new[1:] = (self.row[1:] != self.row[:-1]) | (self.col[1:] != self.col[:-1])
            self.pair = (np.cumsum(new) - 1).astype(np.int32)
            starts = np.flatnonzero(new)
            self.indices = self.col[starts].astype(np.int32)
            counts = np.bincount(self.row[starts], minlength=self.n_customers)
            index_type = np.int32 if len(starts) < 2**31 - 1 else np.int64  # shared, never upcast
            self.indices = self.indices.astype(index_type)
            self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index_type)

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    @property
    def n_products(self) -> int:
        return len(self.product_ids)

    @property
    def n_pairs(self) -> int:
        return len(self.indices)

    def _cached(self, key, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def pair_values(self, values: np.ndarray) -> np.ndarray:
        """Per purchase pair, the sum of `values` (one per day)."""
        return np.bincount(self.pair, weights=values, minlength=self.n_pairs)

    def pairs_matrix(self, data: np.ndarray, keep: np.ndarray | None = None) -> sparse.csr_matrix:
        """customers x products with `data` per pair (all pairs, or those where keep is True)."""
        if keep is None:
            return sparse.csr_matrix(
                (data, self.indices, self.indptr), shape=(self.n_customers, self.n_products)
            )
        counts = np.bincount(
            np.repeat(np.arange(self.n_customers), np.diff(self.indptr))[keep], minlength=self.n_customers
        )
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return sparse.csr_matrix(
            (data[keep], self.indices[keep], indptr), shape=(self.n_customers, self.n_products)
        )

    @property
    def pair_rows(self) -> np.ndarray:
        return self._cached(
            "pair_rows", lambda: np.repeat(np.arange(self.n_customers, dtype=np.int32), np.diff(self.indptr))
        )

    @property
    def bought(self) -> sparse.csr_matrix:
        """1 where the customer bought the product (customers x products)."""
        return self._cached("bought", lambda: self.pairs_matrix(np.ones(self.n_pairs)))

    @property
    def purchase_days(self) -> sparse.csr_matrix:
        return self._cached(
            "days",
            lambda: self.pairs_matrix(np.bincount(self.pair, minlength=self.n_pairs).astype(np.float64)),
        )

    def units(self) -> sparse.csr_matrix:
        return self._cached("units", lambda: self.pairs_matrix(self.pair_values(self.quantity)))

    def weighted(self, half_life: float | None) -> sparse.csr_matrix:
        """Invoices x 0.5 ** (age / half_life) summed per customer and product (None: invoices)."""

        def build():
            w = (
                self.invoices
                if half_life is None
                else self.invoices * np.exp2(-self.age / np.float32(half_life))
            )
            return self.pairs_matrix(self.pair_values(w))

        return self._cached(("weighted", half_life), build)

    @property
    def last_age(self) -> np.ndarray:
        """Per pair: days since the customer last bought the product."""

        def build():
            starts = (
                np.concatenate([[0], np.flatnonzero(np.diff(self.pair)) + 1])
                if len(self.pair)
                else np.array([], int)
            )
            return np.minimum.reduceat(self.age, starts) if len(starts) else np.array([], np.float32)

        return self._cached("last_age", build)

    def recent(self, days: float) -> sparse.csr_matrix:
        """1 where the customer bought the product in the last `days` days."""
        keep = self.last_age <= days
        return self._cached(("recent", days), lambda: self.pairs_matrix(np.ones(self.n_pairs), keep))

    def popularity(self, window_days: float | None = None) -> np.ndarray:
        """Distinct buyers per product, all time or in the last `window_days` days."""

        def build():
            cols = self.indices if window_days is None else self.indices[self.last_age <= window_days]
            return np.bincount(cols, minlength=self.n_products).astype(np.float64)

        return self._cached(("popularity", window_days), build)

    def trending(self, half_life: float) -> np.ndarray:
        """Purchase days per product weighted 0.5 ** (age / half_life)."""
        return self._cached(
            ("trending", half_life),
            lambda: np.bincount(self.col, weights=np.exp2(-self.age / half_life), minlength=self.n_products),
        )

    def repeat_rate(self) -> np.ndarray:
        """Per product: share of its buyers who bought it on two days or more (shrunk towards the
        catalogue's share by one pseudo-buyer, so a product with one buyer is not 0 or 1)."""

        def build():
            days = np.bincount(self.pair, minlength=self.n_pairs)
            buyers = np.bincount(self.indices, minlength=self.n_products)
            repeaters = np.bincount(self.indices[days >= 2], minlength=self.n_products)
            prior = repeaters.sum() / max(buyers.sum(), 1)
            return (repeaters + prior) / (buyers + 1.0)

        return self._cached("repeat_rate", build)

    def capped_bought(self, max_items: int) -> sparse.csr_matrix:
        """`bought` keeping each customer's `max_items` most recently bought products: the
        similarity features, so that the co-occurrence work is at most max_items x interactions."""

        def build():
            sizes = np.diff(self.indptr)
            if sizes.max(initial=0) <= max_items:
                return self.bought
            keep = np.ones(self.n_pairs, dtype=bool)
            # only the pairs of the customers above the cap are sorted (a few in a large shop)
            heavy = np.flatnonzero(sizes > max_items)
            lengths = sizes[heavy]
            pairs = np.repeat(self.indptr[heavy] - np.cumsum(np.concatenate([[0], lengths[:-1]])), lengths)
            pairs = pairs + np.arange(len(pairs))  # the heavy rows' pair positions, row by row
            rows = np.repeat(np.arange(len(heavy)), lengths)
            order = np.lexsort((self.indices[pairs], self.last_age[pairs], rows))  # most recent first
            rank = np.arange(len(order)) - np.repeat(np.cumsum(lengths) - lengths, lengths)[order]
            keep[pairs[order[rank >= max_items]]] = False
            log.info(
                "similarity features: %d customers with more than %d products keep their %d most recent",
                int((sizes > max_items).sum()),
                max_items,
                max_items,
            )
            return self.pairs_matrix(np.ones(self.n_pairs), keep)

        return self._cached(("capped", max_items), build)

    def rows_of(self, customer_ids: np.ndarray) -> np.ndarray:
        """Row of each customer id (-1 for customers without history)."""
        return pd.Index(self.customer_ids).get_indexer(customer_ids)


def _positions(values: pd.Series, index: np.ndarray) -> np.ndarray:
    """Position of each value in `index` (-1 if absent); a categorical column is mapped through
    its categories (one lookup per category, not per row)."""
    lookup = pd.Index(index)
    if isinstance(values.dtype, pd.CategoricalDtype):
        per_category = lookup.get_indexer(values.cat.categories.astype(str))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, per_category[codes], -1)
    return lookup.get_indexer(values)


def build_history(
    interactions: pd.DataFrame, product_ids: np.ndarray, as_of: pd.Timestamp, strict: bool = False
) -> History:
    """The purchases of `interactions` (customer_id, product_id, invoice_date, invoices,
    quantity) dated before `as_of` whose product is in the catalogue `product_ids`. strict:
    a purchase of a product outside the catalogue is an error (the production catalogue holds
    every product), else it is left out (an evaluation catalogue: products sold before a split)."""
    as_of = pd.Timestamp(as_of).normalize()
    days = pd.to_datetime(interactions["invoice_date"]).to_numpy().astype("datetime64[D]")
    cols = _positions(interactions["product_id"], product_ids)
    if strict and (cols < 0).any():
        missing = pd.unique(interactions["product_id"].to_numpy()[cols < 0])[:5]
        raise ValueError(
            f"ml.customer_product_interactions: product_id {list(missing)} not in staging.products"
        )
    keep = (days < np.datetime64(as_of.date(), "D")) & (cols >= 0)
    customers = interactions["customer_id"].to_numpy()[keep]
    customer_ids = np.unique(customers)
    rows = np.searchsorted(customer_ids, customers).astype(np.int32)
    cols = cols[keep].astype(np.int32)
    age = (np.datetime64(as_of.date(), "D") - days[keep]).astype(np.float32)
    order = np.lexsort((age, cols, rows))
    return History(
        as_of=as_of,
        product_ids=np.asarray(product_ids),
        customer_ids=customer_ids,
        row=rows[order],
        col=cols[order],
        age=age[order],
        invoices=interactions["invoices"].to_numpy(np.float32)[keep][order],
        quantity=interactions["quantity"].to_numpy(np.float32)[keep][order],
    )


def scaled(values: np.ndarray) -> np.ndarray:
    """values / max (all zeros stay zeros)."""
    values = np.asarray(values, dtype=np.float64)
    top = values.max(initial=0.0)
    return values / top if top > 0 else values


def ranking_of(values: np.ndarray) -> np.ndarray:
    """Columns by decreasing value, ties to the smaller column (a popularity ranking)."""
    return np.lexsort((np.arange(len(values)), -np.asarray(values, dtype=np.float64)))


# --- item neighbours ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NeighbourPool:
    """Candidate neighbours per product: counts[i, j] = co-occurrence weight of i and j for the
    pairs in the pool; `n` = each product's own weight (buyers)."""

    counts: sparse.csr_matrix
    n: np.ndarray


def neighbour_pool(
    features: sparse.csr_matrix, pool_size: int, threads: int = 1, user_weights: np.ndarray | None = None
) -> NeighbourPool:
    """The co-occurrence pool of the products (columns of `features`, customers x products,
    binary): each product's `pool_size` best partners by cosine, with their co-occurrence
    counts; the tuned normalisations (item_knn's alpha and shrink, RP3beta's beta) re-rank
    within the pool. (A pool that also held the best partners by raw count and by count /
    partner's buyers tuned to the same lists on Online Retail at 2.5x the cost.) `user_weights`
    (per customer) weight each customer's co-occurrences (RP3beta).

    One sparse_dot_topn kernel product keeps pool_size + 1 per product while it multiplies (the
    product itself, its own best partner, is dropped): the work is the sum over customers of
    their products squared (capped by History.capped_bought), the memory the pool's."""
    from sparse_dot_topn import sp_matmul_topn

    started = time.monotonic()
    features = sparse.csr_matrix(features, dtype=np.float64)
    n_items = features.shape[1]
    n = np.asarray(features.sum(axis=0)).ravel()
    left = features.T.tocsr() if user_weights is None else (features.T @ sparse.diags(user_weights)).tocsr()
    tie = 1.0 - 1e-9 * np.arange(n_items) / max(n_items, 1)  # ties at the cut: smaller column
    scale = tie / np.sqrt(np.where(n > 0, n, 1.0))
    top = sparse.csr_matrix(
        sp_matmul_topn(
            left,
            sparse.csr_matrix(features @ sparse.diags(scale)),
            top_n=min(pool_size + 1, n_items),
            threshold=0.0,
            n_threads=threads,
        )
    )
    del left
    # the product itself dropped in place of the kernel's CSR (no coordinate copies: 20 million
    # pairs at 100,000 products)
    other = top.indices != np.repeat(np.arange(n_items, dtype=top.indices.dtype), np.diff(top.indptr))
    indices = top.indices[other]
    data = top.data[other]
    data /= scale[indices]
    indptr = np.concatenate([[0], np.cumsum(other)])[top.indptr]
    del top, other
    counts = ranking.canonical(sparse.csr_matrix((data, indices, indptr), shape=(n_items, n_items)))
    log.info(
        "neighbour pool of %d products (%d each): %d pairs in %.2f s",
        n_items,
        pool_size,
        counts.nnz,
        time.monotonic() - started,
    )
    return NeighbourPool(counts, n)


def item_knn_matrix(pool: NeighbourPool, neighbours: int, shrink: float, alpha: float) -> sparse.csr_matrix:
    """Products x products: count_ij / (n_i ** alpha * n_j ** (1 - alpha) + shrink), the best
    `neighbours` j per i (alpha = 0.5: cosine; shrink damps pairs with few buyers)."""
    c = pool.counts
    rows = np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))
    n = np.maximum(pool.n, 1e-12)
    values = c.data / (np.power(n[rows], alpha) * np.power(n[c.indices], 1.0 - alpha) + shrink)
    return _keep_top(sparse.csr_matrix((values, c.indices, c.indptr), shape=c.shape), neighbours)


def rp3beta_matrix(pool: NeighbourPool, neighbours: int, alpha: float, beta: float) -> sparse.csr_matrix:
    """RP3beta (Paudel et al. 2017): W_ij = n_i^-alpha * sum_u x_ui x_uj d_u^-alpha / n_j^beta on a
    pool built with user_weights d_u^-alpha; the best `neighbours` j per i."""
    c = pool.counts
    rows = np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))
    n = np.maximum(pool.n, 1e-12)
    values = c.data * np.power(n[rows], -alpha) / np.power(n[c.indices], beta)
    return _keep_top(sparse.csr_matrix((values, c.indices, c.indptr), shape=c.shape), neighbours)


def _keep_top(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    top = ranking.top_n_sparse(matrix, k, positive_only=True, ordered=False)
    return ranking.top_n_to_csr(top, matrix.shape[1])


def similar_customers_matrix(
    history: History, half_life: float, neighbours: int, threads: int = 1
) -> sparse.csr_matrix:
    """Products x products M = X^T D^-1 R: M_ji = sum over customers v who bought j of
    (v's purchases of i weighted 0.5 ** (age / half_life)) / (v's distinct products).

    x_u @ M scores "what customers who buy like u bought lately" (user-kNN through item space:
    a two-step walk u -> product -> customer -> recent product), so no customers x customers
    matrix exists. Purchases older than 6 half-lives (weight < 1/64) are left out; each row
    keeps its `neighbours` largest entries. Cost: sum over recent buyers of (products x recent
    products)."""
    started = time.monotonic()
    horizon = 6.0 * half_life
    weights = np.where(
        history.age <= horizon, history.invoices * np.exp2(-history.age / np.float32(half_life)), 0.0
    )
    recent = history.pairs_matrix(history.pair_values(weights), history.last_age <= horizon)
    active = np.flatnonzero(np.diff(recent.indptr) > 0)
    bought = history.bought[active]
    sizes = np.maximum(np.asarray(history.bought[active].sum(axis=1)).ravel(), 1.0)
    left = (bought.T @ sparse.diags(1.0 / sizes)).tocsr()
    top = ranking.top_n_product(left, recent[active], neighbours, threads=threads)
    matrix = ranking.top_n_to_csr(top, history.n_products)
    log.info(
        "similar customers (half-life %g d): %d recent buyers, %d product pairs in %.2f s",
        half_life,
        len(active),
        matrix.nnz,
        time.monotonic() - started,
    )
    return matrix


# --- user-kNN -------------------------------------------------------------------------------


def user_knn_top_n(
    history: History,
    rows: np.ndarray,
    n: int,
    neighbours: int,
    beta: float,
    exponent: float,
    history_half_life: float | None,
    max_item_buyers: int,
    threads: int = 1,
) -> ranking.TopN:
    """Classic user-based CF for the customers `rows`: cosine on the (recency-weighted)
    purchase vectors with products weighted buyers ** -beta, the `neighbours` most similar
    customers (similarity ** exponent) vote with their purchases. Bought products excluded.

    Linear cost: products bought by more than `max_item_buyers` customers are left out of the
    similarity (they say little about taste, and would make the work grow with the square of
    their buyers), and every customer enters with their SIMILARITY_MAX_ITEMS_PER_CUSTOMER most
    recent products: a customer's similarities cost at most that x max_item_buyers, a vote at
    most that x neighbours."""
    recent = history.capped_bought(config.SIMILARITY_MAX_ITEMS_PER_CUSTOMER)
    buyers = history.popularity()
    weights = np.where(buyers > max_item_buyers, 0.0, np.power(np.maximum(buyers, 1.0), -beta))
    features = sparse.csr_matrix(history.weighted(history_half_life).multiply(recent) @ sparse.diags(weights))
    features.eliminate_zeros()
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1)).ravel())
    features = sparse.csr_matrix(sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ features)
    self_mark = sparse.csr_matrix(
        (np.ones(len(rows)), (np.arange(len(rows)), rows)), shape=(len(rows), history.n_customers)
    )
    sims = ranking.top_n_product(
        features[rows], features.T.tocsr(), neighbours, exclude=self_mark, threads=threads
    )
    votes = ranking.top_n_to_csr(sims, history.n_customers)
    votes.data = np.power(votes.data, exponent)
    return ranking.top_n_product(votes, recent, n, exclude=history.bought[rows], threads=threads)


# --- EASE^R ------------------------------------------------------------------------------------


def gram_matrix(bought: sparse.csr_matrix) -> np.ndarray:
    """X^T X as a dense float32 products x products matrix (EASE^R's input): the sparse X^T
    times the dense X, nnz x products work (a sparse x sparse product is ~2.5x slower here)."""
    x = bought.astype(np.float32)
    return np.ascontiguousarray(x.T.tocsr() @ x.toarray())


def ease_weights(gram: np.ndarray, lam: float) -> np.ndarray:
    """EASE^R (Steck 2019): B = I - P / diag(P) with P = (X^T X + lam I)^-1, diag(B) = 0.
    Dense products x products (float32): an evaluation baseline, run up to EASE_MAX_PRODUCTS."""
    inv = gram.copy()
    inv[np.diag_indices_from(inv)] += np.float32(lam)
    _spd_inverse_lower(inv, lam)
    _mirror_lower(inv)  # the inverse is in the lower triangle only
    weights = inv
    weights /= -np.diag(weights).copy()[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def _spd_inverse_lower(square: np.ndarray, lam: float) -> None:
    """The inverse of a symmetric positive definite float32 C-ordered matrix into its lower
    triangle, in place: LAPACK spotrf + spotri through scipy's Cython LAPACK, called without
    the GIL (scipy.linalg.lapack's wrappers hold it for the whole call, stalling the thread that
    tunes the other methods meanwhile). Column-major 'U' is the row-major lower triangle."""
    assert square.dtype == np.float32 and square.flags["C_CONTIGUOUS"]
    n, info = ctypes.c_int(square.shape[0]), ctypes.c_int(0)
    for step, routine in (("Cholesky", _LAPACK["spotrf"]), ("inverse", _LAPACK["spotri"])):
        routine(b"U", ctypes.byref(n), square.ctypes.data, ctypes.byref(n), ctypes.byref(info))
        if info.value != 0:
            raise np.linalg.LinAlgError(f"EASE: {step} failed (info {info.value}) with lambda {lam}")


def _lapack_routines(*names: str) -> dict:
    """ctypes functions (which release the GIL) of scipy.linalg.cython_lapack's routines
    `void name(char *uplo, int *n, float *a, int *lda, int *info)`."""
    from scipy.linalg import cython_lapack

    pointer = ctypes.pythonapi.PyCapsule_GetPointer
    pointer.restype, pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    name_of = ctypes.pythonapi.PyCapsule_GetName
    name_of.restype, name_of.argtypes = ctypes.c_char_p, [ctypes.py_object]
    ints = ctypes.POINTER(ctypes.c_int)
    signature = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ints, ctypes.c_void_p, ints, ints)
    routines = {}
    for name in names:
        capsule = cython_lapack.__pyx_capi__[name]
        routines[name] = signature(pointer(capsule, name_of(capsule)))
    return routines


_LAPACK = _lapack_routines("spotrf", "spotri")


def _mirror_lower(square: np.ndarray, step: int = 256) -> None:
    """Copy the lower triangle onto the upper one in place, a band of `step` rows at a time
    (no products x products temporary: two np.tril copies cost ~6x more)."""
    n = square.shape[0]
    for start in range(0, n, step):
        stop = min(n, start + step)
        square[start:stop, stop:] = square[stop:, start:stop].T
        block = square[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        block[upper] = block.T[upper]


# --- ALS -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Factors:
    users: np.ndarray  # customers x factors
    items: np.ndarray  # products x factors

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self.users[rows] @ self.items.T

    def values(self, rows: np.ndarray, cols: np.ndarray, chunk: int = 100_000) -> np.ndarray:
        """users[rows[k]] . items[cols[k]] for every k (candidate pairs), in chunks."""
        out = np.empty(len(rows), dtype=np.float64)
        for start in range(0, len(rows), chunk):
            stop = start + chunk
            out[start:stop] = np.einsum(
                "ij,ij->i", self.users[rows[start:stop]], self.items[cols[start:stop]]
            )
        return out


def fit_als(
    history: History,
    factors: int,
    regularization: float,
    alpha: float,
    iterations: int,
    seed: int = config.SEED,
    threads: int = 1,
) -> Factors:
    """Implicit ALS (Hu, Koren, Volinsky 2008; package `implicit`, CPU, conjugate gradient) on
    the binary purchases, confidence 1 + alpha; seeded."""
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=int(factors),
        regularization=float(regularization),
        alpha=float(alpha),
        iterations=int(iterations),
        random_state=seed,
        num_threads=threads,
        calculate_training_loss=False,
    )
    model.fit(history.bought.astype(np.float32), show_progress=False)
    return Factors(np.asarray(model.user_factors), np.asarray(model.item_factors))


# --- segments ---------------------------------------------------------------------------------


def co_purchase_top_k(history: History, k: int, product_rows: tuple[int, int] | None = None):
    """The `k` products most similar to each product by the customers who bought them: cosine of
    log(1 + invoices) over customers (similarity.TopK; the co_purchase method of
    marts.product_similarity); with `product_rows` = (start, stop), of those products only."""
    from include.ml.similarity import blocked_top_k_cosine, purchase_features

    inv = history.weighted(None)
    rows = np.repeat(np.arange(history.n_customers), np.diff(inv.indptr))
    features = purchase_features(rows, inv.indices, inv.data, history.n_customers, history.n_products)
    return blocked_top_k_cosine(features, k=k, rows=product_rows)


def segment_rows(history: History, segments: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """(segment index per customer row, -1 = none; the segment ids) from customer_id, segment_id."""
    segment_of = np.full(history.n_customers, -1, dtype=np.int64)
    if segments is None or segments.empty:
        return segment_of, np.array([], dtype=np.int64)
    seg = segments.drop_duplicates("customer_id").set_index("customer_id")["segment_id"]
    ids = np.sort(seg.unique())
    known = seg.reindex(history.customer_ids)
    present = known.notna().to_numpy()
    segment_of[present] = pd.Index(ids).get_indexer(known[present].to_numpy())
    return segment_of, ids


def segment_popularity(
    history: History, segment_of: np.ndarray, n_segments: int, window_days: float | None, shrink: float
) -> np.ndarray:
    """(segments + 1) x products: share of each segment's customers who bought the product (in
    the window), shrunk towards the share among all customers by `shrink` pseudo-customers;
    the last row is the share among all customers (customers without a segment)."""
    bought = history.bought if window_days is None else history.recent(window_days)
    present = segment_of >= 0
    one_hot = sparse.csr_matrix(
        (np.ones(int(present.sum())), (segment_of[present], np.flatnonzero(present))),
        shape=(n_segments, history.n_customers),
    )
    counts = np.asarray((one_hot @ bought).todense())
    sizes = np.bincount(segment_of[present], minlength=n_segments).astype(np.float64)
    overall = np.asarray(bought.sum(axis=0)).ravel() / max(history.n_customers, 1)
    shares = (counts + shrink * overall[None, :]) / (sizes[:, None] + shrink + 1e-12)
    return np.vstack([shares, overall[None, :]])


# --- one fit: the signals of one History, each computed once ---------------------------------------


@dataclass
class Fit:
    """Everything fitted on one History (an evaluation split, or production): signals are built
    on first use and kept, so tuning trials only re-weight and rank them."""

    history: History
    descriptions: pd.Series  # aligned with history.product_ids
    segments: pd.DataFrame | None = None  # customer_id, segment_id as of history.as_of
    threads: int = 1
    content_neighbours: int = config.TOP_K_SIMILAR
    tokens: object | None = None  # similarity.DescriptionTokens of a larger catalogue
    token_rows: np.ndarray | None = None  # this catalogue's rows in `tokens`
    score_rows: np.ndarray | None = None  # the customers an evaluation scores (dense models: once)
    cache: dict = field(default_factory=dict, repr=False)
    _lock: object = field(default_factory=threading.RLock, repr=False)  # the cache is shared by two threads

    def _cached(self, key, build):
        with self._lock:
            if key in self.cache:
                return self.cache[key]
        value = build()  # outside the lock: the other thread keeps working
        with self._lock:
            return self.cache.setdefault(key, value)

    def _replace(self, prefix: str, key, build):
        """Like _cached, but the entries of `prefix` under other keys are dropped first (one kept)."""
        with self._lock:
            if key in self.cache:
                return self.cache[key]
            for old in [k for k in self.cache if isinstance(k, tuple) and k[0] == prefix]:
                del self.cache[old]
        return self._cached(key, build)

    @property
    def global_order(self) -> np.ndarray:
        """Products by all-time buyers (the fill of every list), ties to the smaller column."""
        return self._cached("global_order", lambda: ranking_of(self.history.popularity()))

    def content(self) -> sparse.csr_matrix:
        """Products x products: TF-IDF cosine of the descriptions, best `content_neighbours`
        (vocabulary and IDF of this catalogue; a caller may put a computed one in the cache)."""
        from include.ml.similarity import blocked_top_k_cosine, description_features

        def build():
            if self.tokens is not None:
                features = description_features(None, tokens=self.tokens, rows=self.token_rows)
            else:
                features = description_features(self.descriptions)
            top = blocked_top_k_cosine(features, k=self.content_neighbours)
            return ranking.canonical(top.to_sparse(self.history.n_products))

        return self._cached("content", build)

    def co_purchase(self) -> sparse.csr_matrix:
        """Products x products: cosine of log(1 + invoices) over customers (the co_purchase
        similarity of marts.product_similarity), best `content_neighbours`."""

        def build():
            top = co_purchase_top_k(self.history, self.content_neighbours)
            return ranking.canonical(top.to_sparse(self.history.n_products))

        return self._cached("co_purchase", build)

    def item_pool(self) -> NeighbourPool:
        return self._cached(
            "item_pool",
            lambda: neighbour_pool(
                self.history.capped_bought(config.SIMILARITY_MAX_ITEMS_PER_CUSTOMER),
                config.NEIGHBOUR_POOL,
                threads=self.threads,
            ),
        )

    def rp3_pool(self, alpha: float) -> NeighbourPool:
        def build():
            features = self.history.capped_bought(config.SIMILARITY_MAX_ITEMS_PER_CUSTOMER)
            degree = np.maximum(np.asarray(features.sum(axis=1)).ravel(), 1.0)
            return neighbour_pool(
                features, config.NEIGHBOUR_POOL, threads=self.threads, user_weights=np.power(degree, -alpha)
            )

        return self._cached(("rp3_pool", alpha), build)

    def similar_customers(self, half_life: float) -> ranking.Right:
        """The similar-customers matrix, prepared for ranking.top_n_product (kept once)."""
        return self._cached(
            ("similar_customers", half_life),
            lambda: ranking.prepare_right(
                similar_customers_matrix(
                    self.history, half_life, config.SIMILAR_CUSTOMERS_NEIGHBOURS, threads=self.threads
                )
            ),
        )

    def release(self, *prefixes: str) -> None:
        """Drop cached signals whose key starts with one of `prefixes` (memory of large shops)."""
        with self._lock:
            for key in list(self.cache):
                head = key[0] if isinstance(key, tuple) else key
                if head in prefixes:
                    del self.cache[key]

    def als(self, factors: int, regularization: float, alpha: float) -> Factors:
        """ALS factors; only the last parameters' are kept (a study tries many)."""
        key = ("als", int(factors), float(regularization), float(alpha))
        return self._replace(
            "als",
            key,
            lambda: fit_als(
                self.history, factors, regularization, alpha, config.ALS_ITERATIONS, threads=self.threads
            ),
        )

    def keep_als(self, factors: int, regularization: float, alpha: float, value: Factors) -> None:
        """Factors of these parameters fitted elsewhere (the evaluation's side process)."""
        key = ("als", int(factors), float(regularization), float(alpha))
        self._replace("als", key, lambda: value)

    def ease(self, lam: float) -> np.ndarray:
        """EASE^R weights; only the last lambda's are kept (products^2 floats each)."""
        gram = self._cached("gram", lambda: gram_matrix(self.history.bought))
        return self._replace("ease", ("ease", float(lam)), lambda: ease_weights(gram, lam))

    def segment_rows(self) -> tuple[np.ndarray, np.ndarray]:
        def build():
            segments = self.segments.result() if hasattr(self.segments, "result") else self.segments
            return segment_rows(self.history, segments)  # (a future: the segments load beside)

        return self._cached("segment_rows", build)
