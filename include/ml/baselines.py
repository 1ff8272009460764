"""The baselines the hybrid is measured against, each with its search space.

A `Method` turns a `Fit` (one History's signals), its hyper-parameters and a block of customer
rows into lists (`ranking.TopN`). Every list has `n` products when the catalogue allows: what a
method scores is completed from the all-time best sellers the customer has not bought
(`discover`), or from the customer's own bought products (`buy_again`). Every method tunes its
own parameters (include/ml/tuning.py) on the same validation window.

discover: global_popularity, recent_popularity (window tuned), segment_popularity,
content_only, co_purchase_only, item_knn (recency-weighted history), user_knn, rp3beta, ease
(EASE^R, up to EASE_MAX_PRODUCTS products), als (implicit ALS).
buy_again: own_most_bought (recency-weighted, tuned) and ease with bought products allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from include import config
from include.ml import ranking, signals
from include.ml.signals import Fit

DENSE_BLOCK_CELLS = 20_000_000  # customers x products per dense score block (EASE, ALS): 80 MB


@dataclass(frozen=True)
class Param:
    """One hyper-parameter of a search space (Optuna distributions)."""

    name: str
    kind: str  # "int", "float" or "cat"
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple = ()
    default: object = None

    def suggest(self, trial):
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))


@dataclass(frozen=True)
class Method:
    name: str
    list_types: tuple[str, ...]
    space: tuple[Param, ...]
    lists: Callable  # (fit, params, rows, n, list_type) -> TopN

    @property
    def defaults(self) -> dict:
        return {p.name: p.default for p in self.space}


METHODS: dict[str, Method] = {}  # name -> Method, filled by @method below
DISCOVER = ("discover",)
HALF_LIFE = Param("half_life_days", "float", 3.0, 3650.0, log=True, default=180.0)
NEIGHBOURS = Param("neighbours", "int", 5, config.TOP_K_SIMILAR, log=True, default=20)
POOL = Param("neighbours", "int", 10, config.NEIGHBOUR_POOL, log=True, default=100)


def method(list_types: tuple[str, ...], *space: Param) -> Callable:
    """Register the decorated lists function as the method of its name: the list types it makes
    and its search space (tuned on the validation window; each Param's default is the untuned
    value)."""

    def register(lists: Callable) -> Callable:
        METHODS[lists.__name__] = Method(lists.__name__, list_types, space, lists)
        return lists

    return register


# --- completing lists ----------------------------------------------------------------------------


def discover_fill(fit: Fit, rows: np.ndarray, top: ranking.TopN, n: int) -> ranking.TopN:
    """Complete discover lists with the best sellers the customer has not bought."""
    return ranking.fill(top, ranking.first_unbought(fit.global_order, fit.history.bought[rows], n), n)


def buy_again_fill(fit: Fit, rows: np.ndarray, top: ranking.TopN, n: int) -> ranking.TopN:
    """Complete buy_again lists with the customer's other bought products, best sellers first."""
    if (top.lengths() >= np.minimum(n, np.diff(fit.history.bought[rows].indptr))).all():
        return top
    bought = fit.history.bought[rows].copy()
    rank = np.empty(fit.history.n_products)
    rank[fit.global_order] = np.arange(fit.history.n_products)
    bought.data = fit.history.n_products - rank[bought.indices]
    return ranking.fill(top, ranking.top_n_sparse(bought, n).cols, n)


def finish(fit: Fit, rows: np.ndarray, top: ranking.TopN, n: int, list_type: str) -> ranking.TopN:
    return discover_fill(fit, rows, top, n) if list_type == "discover" else buy_again_fill(fit, rows, top, n)


# --- popularity ------------------------------------------------------------------------------------


def _popular_lists(fit: Fit, values: np.ndarray, rows: np.ndarray, n: int) -> ranking.TopN:
    """The customer's first n unbought products by `values`, ties by all-time popularity."""
    order = np.lexsort((np.arange(len(values)), -fit.history.popularity(), -values))
    cols = ranking.first_unbought(order, fit.history.bought[rows], n)
    scores = np.where(cols >= 0, values[np.maximum(cols, 0)], np.nan)
    return ranking.TopN(cols, scores)


@method(DISCOVER, Param("measure", "cat", choices=("customers", "purchase_days"), default="customers"))
def global_popularity(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    h = fit.history
    values = (
        h.popularity()
        if params["measure"] == "customers"
        else np.asarray(h.purchase_days.sum(axis=0)).ravel()
    )
    return _popular_lists(fit, values.astype(np.float64), rows, n)


@method(DISCOVER, Param("window_days", "int", 1, 180, log=True, default=30))
def recent_popularity(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    return _popular_lists(
        fit, fit.history.popularity(float(params["window_days"])).astype(np.float64), rows, n
    )


@method(
    DISCOVER,
    Param("window_days", "int", 7, 730, log=True, default=730),
    Param("shrink", "float", 0.0, 200.0, default=10.0),
)
def segment_popularity(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    """Each customer's segment (as of the split) popularity; no segment: all customers'."""
    segment_of, ids = fit.segment_rows()
    window = params["window_days"]
    shares = signals.segment_popularity(
        fit.history, segment_of, len(ids), None if window is None else float(window), float(params["shrink"])
    )
    seg = np.where(segment_of[rows] < 0, len(ids), segment_of[rows])
    cols = np.full((len(rows), n), -1, dtype=np.int64)
    scores = np.full((len(rows), n), np.nan)
    for s in np.unique(seg):  # a loop over the few segments, not over customers
        members = np.flatnonzero(seg == s)
        top = _popular_lists(fit, shares[s], rows[members], n)
        cols[members], scores[members] = top.cols, top.scores
    return ranking.TopN(cols, scores)


# --- neighbourhood methods -------------------------------------------------------------------------


def _history(fit: Fit, half_life: float | None, rows: np.ndarray) -> sparse.csr_matrix:
    return fit.history.weighted(None if half_life is None else float(half_life))[rows]


def _truncate(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    return ranking.top_n_to_csr(
        ranking.top_n_sparse(matrix, int(k), positive_only=True, ordered=False), matrix.shape[1]
    )


def _neighbour_lists(fit: Fit, history: sparse.csr_matrix, items: sparse.csr_matrix, rows, n, list_type):
    if list_type == "discover":
        top = ranking.top_n_product(history, items, n, exclude=fit.history.bought[rows], threads=fit.threads)
    else:  # scores of the bought products only
        scores = (history @ items).multiply(fit.history.bought[rows])
        top = ranking.top_n_sparse(ranking.canonical(scores), n, positive_only=True)
    return finish(fit, rows, top, n, list_type)


@method(DISCOVER, HALF_LIFE, NEIGHBOURS)
def content_only(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    items = _truncate(fit.content(), params["neighbours"])
    return _neighbour_lists(fit, _history(fit, params["half_life_days"], rows), items, rows, n, list_type)


@method(DISCOVER, HALF_LIFE, NEIGHBOURS)
def co_purchase_only(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    items = _truncate(fit.co_purchase(), params["neighbours"])
    return _neighbour_lists(fit, _history(fit, params["half_life_days"], rows), items, rows, n, list_type)


def item_knn_items(fit: Fit, params: dict) -> sparse.csr_matrix:
    return signals.item_knn_matrix(
        fit.item_pool(), int(params["neighbours"]), float(params["shrink"]), float(params["alpha"])
    )


@method(
    DISCOVER,
    POOL,
    Param("shrink", "float", 0.0, 100.0, default=10.0),
    Param("alpha", "float", 0.0, 1.0, default=0.5),
    HALF_LIFE,
)
def item_knn(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    history = _history(fit, params["half_life_days"], rows)
    return _neighbour_lists(fit, history, item_knn_items(fit, params), rows, n, list_type)


@method(
    DISCOVER,
    Param("alpha", "cat", choices=(0.5, 1.0), default=1.0),
    Param("beta", "float", 0.0, 1.0, default=0.5),
    POOL,
)
def rp3beta(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    items = signals.rp3beta_matrix(
        fit.rp3_pool(float(params["alpha"])),
        int(params["neighbours"]),
        float(params["alpha"]),
        float(params["beta"]),
    )
    return _neighbour_lists(fit, fit.history.bought[rows], items, rows, n, list_type)


@method(
    DISCOVER,
    Param("neighbours", "int", 10, 500, log=True, default=100),
    Param("beta", "float", 0.0, 1.0, default=0.5),
    Param("exponent", "float", 0.5, 4.0, default=1.0),
    HALF_LIFE,
)
def user_knn(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    top = signals.user_knn_top_n(
        fit.history,
        rows,
        n,
        neighbours=int(params["neighbours"]),
        beta=float(params["beta"]),
        exponent=float(params["exponent"]),
        history_half_life=float(params["half_life_days"]),
        max_item_buyers=config.USER_KNN_MAX_ITEM_BUYERS,
        threads=fit.threads,
    )
    return finish(fit, rows, top, n, list_type)


# --- dense models (evaluation only) ----------------------------------------------------------------


def _dense_lists(fit: Fit, score_block: Callable, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    """Lists from dense float32 score blocks of at most DENSE_BLOCK_CELLS scores."""
    cols = np.full((len(rows), n), -1, dtype=np.int64)
    scores = np.full((len(rows), n), np.nan)
    step = max(1, DENSE_BLOCK_CELLS // max(fit.history.n_products, 1))
    for start in range(0, len(rows), step):
        block = rows[start : start + step]
        values = np.asarray(score_block(block), dtype=np.float32)
        bought = fit.history.bought[block]
        r, c = bought.nonzero()
        if list_type == "discover":
            values[r, c] = -np.inf
        else:
            allowed = np.full(values.shape, -np.inf, dtype=np.float32)
            allowed[r, c] = values[r, c]
            values = allowed
        top = ranking.top_n_dense(values, n)
        cols[start : start + len(block)], scores[start : start + len(block)] = top.cols, top.scores
    return finish(fit, rows, ranking.TopN(cols, scores), n, list_type)


@method(("discover", "buy_again"), Param("lam", "float", 10.0, 10_000.0, log=True, default=300.0))
def ease(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    lam = float(params["lam"])
    weights = fit.ease(lam)
    bought = fit.history.bought.astype(np.float32)
    union = fit.score_rows
    if (
        union is not None
        and len(union) * fit.history.n_products <= 4 * DENSE_BLOCK_CELLS
        and np.isin(rows, union).all()
    ):
        # both list types of a trial score the same customers: once per lambda
        scores = fit._replace(
            "ease_scores", ("ease_scores", lam), lambda: np.asarray(bought[union] @ weights)
        )
        return _dense_lists(fit, lambda block: scores[np.searchsorted(union, block)], rows, n, list_type)
    return _dense_lists(fit, lambda block: bought[block] @ weights, rows, n, list_type)


@method(
    DISCOVER,
    Param("factors", "int", 16, 64, log=True, default=64),
    Param("regularization", "float", 1e-3, 10.0, log=True, default=0.1),
    Param("alpha", "float", 0.1, 50.0, log=True, default=1.0),
)
def als(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    factors = fit.als(int(params["factors"]), float(params["regularization"]), float(params["alpha"]))
    return _dense_lists(fit, factors.scores, rows, n, list_type)


@method(("buy_again",), Param("half_life_days", "float", 3.0, 3650.0, log=True, default=365.0))
def own_most_bought(fit: Fit, params: dict, rows: np.ndarray, n: int, list_type: str) -> ranking.TopN:
    """The customer's own products by invoices weighted 0.5 ** (age / half-life); units break ties."""
    scores = _history(fit, params["half_life_days"], rows).astype(np.float64)
    units = fit.history.units()[rows]
    scores.data = scores.data + 1e-6 * units.data / (units.data.max(initial=0.0) + 1.0)
    return buy_again_fill(fit, rows, ranking.top_n_sparse(scores, n, positive_only=True), n)
