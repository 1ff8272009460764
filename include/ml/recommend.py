"""Per-customer recommendation lists from purchase history, sparse item-item similarity and
popularity.

A `Model` is fitted on the interactions before an as-of date (the evaluation fits one per
split, production fits one on all data). Lists are scored for blocks of customers at a time:
every signal is a sparse customers x products matrix (history @ neighbours, or the top popular
products), so nothing dense of size customers x products or products x products is built.

- discover: products the customer has not bought. Hybrid = weighted sum of co-purchase
  neighbours of the (recency-weighted) history, content neighbours, recent popularity and the
  customer's segment popularity, each signal scaled to [0, 1] per customer.
- buy_again: products the customer bought. Hybrid = recency-weighted purchase frequency plus a
  little of the product's recent popularity (seasonal items come back).
- cold start (no history): the segment's (or, without a segment, the global) popularity.
- new products (no sales) enter through content similarity only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy import sparse

from include import config
from include.ml.similarity import TopK, blocked_top_k_cosine, purchase_features, top_k_per_row

log = logging.getLogger(__name__)

# The signals a discover list may blend; the plain baselines use one of them each.
DISCOVER_SIGNALS = (
    "co_purchase",
    "similar_customers",
    "content",
    "trending",
    "recent_popularity",
    "segment_popularity",
    "global_popularity",
)

REASONS = {
    "co_purchase": "often bought with products you bought",
    "similar_customers": "bought lately by customers who buy like you",
    "content": "similar to products you bought",
    "trending": "selling fast right now",
    "recent_popularity": "popular in the last weeks",
    "segment_popularity": "popular with customers of your segment",
    "global_popularity": "a best seller",
    "frequency": "you buy it often",
    "recency": "you bought it recently",
    "cold_start_segment": "new customer: popular with customers of your segment",
    "cold_start_global": "new customer: a best seller",
}


@dataclass(frozen=True)
class BlendWeights:
    """Weights and half-lives of the hybrid lists (tuned on the validation window, see
    evaluation.tune). Each signal is scaled to [0, 1] per customer before weighting."""

    co_purchase: float = 1.0  # neighbours (item-item cosine) of the customer's history
    similar_customers: float = 1.0  # recent purchases of the customer's nearest customers
    content: float = 0.1  # description neighbours of the history (reaches unsold products)
    trending: float = 0.5  # popularity with a half-life of popularity_half_life_days
    recent_popularity: float = 0.0  # distinct buyers in the last RECENT_POPULARITY_DAYS
    segment_popularity: float = 0.0
    global_popularity: float = 0.0
    history_half_life_days: float = 180.0  # a past purchase's weight halves every N days
    neighbour_half_life_days: float = 14.0  # ... among the similar customers' purchases
    popularity_half_life_days: float = 7.0  # ... in the trending signal
    binary_history: bool = False  # True: every bought product counts 1 (the plain baselines)
    buy_again_half_life_days: float = 365.0
    buy_again_trending: float = 0.4

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> BlendWeights:
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


def single_signal(signal: str) -> BlendWeights:
    """Weights of a one-signal baseline: the plain (binary) history, no blend."""
    if signal not in DISCOVER_SIGNALS:
        raise ValueError(f"unknown discover signal {signal!r}; known: {', '.join(DISCOVER_SIGNALS)}")
    zero = dict.fromkeys(DISCOVER_SIGNALS, 0.0)
    return replace(BlendWeights(**{**zero, signal: 1.0}), binary_history=True)


@dataclass
class Model:
    """Everything the lists need, fitted on the interactions before `as_of`."""

    as_of: pd.Timestamp
    product_ids: np.ndarray  # catalogue, sorted; matrix columns
    customer_ids: np.ndarray  # customers with history, sorted; matrix rows
    frequency: sparse.csr_matrix  # invoices per customer x product
    quantity: sparse.csr_matrix  # units per customer x product
    purchases: pd.DataFrame  # row (customer), col (product), age_days, invoices: daily grain
    co_purchase: sparse.csr_matrix  # products x products, top-k cosine per row
    content: sparse.csr_matrix  # products x products, top-k cosine per row
    customer_neighbours: sparse.csr_matrix  # customers x customers, top-k cosine per row
    global_popularity: np.ndarray  # distinct customers per product, scaled to [0, 1]
    recent_popularity: np.ndarray  # distinct buyers in the last RECENT_POPULARITY_DAYS, [0, 1]
    segment_of: np.ndarray  # segment row per customer row (-1: none)
    segment_popularity: np.ndarray  # segments x products, [0, 1] per segment (few segments)
    segment_ids: np.ndarray
    has_segments: bool

    @property
    def n_products(self) -> int:
        return len(self.product_ids)

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)


def _scaled(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    top = values.max() if len(values) else 0.0
    return values / top if top > 0 else values


def fit(
    interactions: pd.DataFrame,
    product_ids: np.ndarray,
    content: TopK | sparse.csr_matrix,
    as_of: pd.Timestamp,
    segments: pd.DataFrame | None = None,
    top_k: int = config.TOP_K_SIMILAR,
) -> Model:
    """Fit on `interactions` (customer_id, product_id, invoice_date, invoices, quantity) dated
    before `as_of`. `product_ids` is the sorted catalogue (the content similarity's rows);
    `segments` (customer_id, segment_id) or None."""
    started = time.monotonic()
    as_of = pd.Timestamp(as_of)
    data = interactions[pd.to_datetime(interactions["invoice_date"]) < as_of]
    product_pos = pd.Index(product_ids)
    customer_ids = np.sort(data["customer_id"].unique())
    rows = pd.Index(customer_ids).get_indexer(data["customer_id"])
    cols = product_pos.get_indexer(data["product_id"])
    if (cols < 0).any():
        missing = data.loc[cols < 0, "product_id"].unique()[:5]
        raise ValueError(
            f"ml.customer_product_interactions: product_id {list(missing)} not in staging.products"
        )
    n_c, n_p = len(customer_ids), len(product_ids)
    invoices = data["invoices"].to_numpy(np.float64)
    frequency = sparse.csr_matrix((invoices, (rows, cols)), shape=(n_c, n_p))
    quantity = sparse.csr_matrix((data["quantity"].to_numpy(np.float64), (rows, cols)), shape=(n_c, n_p))
    age = (as_of - pd.to_datetime(data["invoice_date"])).dt.days.to_numpy()
    purchases = pd.DataFrame({"row": rows, "col": cols, "age_days": age, "invoices": invoices})

    by_product = purchase_features(rows, cols, invoices, n_c, n_p)  # products x customers
    co_purchase = blocked_top_k_cosine(by_product, k=top_k).to_sparse(n_p)
    bought = (frequency > 0).astype(np.float64).tocsr()
    neighbours = blocked_top_k_cosine(bought, k=config.CUSTOMER_NEIGHBOURS).to_sparse(n_c)
    content_matrix = content.to_sparse(n_p) if isinstance(content, TopK) else sparse.csr_matrix(content)

    global_pop = _scaled(np.asarray(bought.sum(axis=0)).ravel())
    recent = purchases[purchases["age_days"] < config.RECENT_POPULARITY_DAYS].drop_duplicates(["row", "col"])
    recent_pop = _scaled(np.bincount(recent["col"].to_numpy(), minlength=n_p))

    segment_of = np.full(n_c, -1, dtype=np.int64)
    has_segments = segments is not None and len(segments) > 0
    if has_segments:
        seg = segments.drop_duplicates("customer_id").set_index("customer_id")["segment_id"]
        segment_ids = np.sort(seg.unique())
        known = seg.reindex(customer_ids)
        present = known.notna().to_numpy()
        segment_of[present] = pd.Index(segment_ids).get_indexer(known[present].to_numpy())
        one_hot = sparse.csr_matrix(
            (np.ones(present.sum()), (segment_of[present], np.flatnonzero(present))),
            shape=(len(segment_ids), n_c),
        )
        segment_pop = np.vstack([_scaled(r) for r in np.asarray((one_hot @ bought).todense())])
        log.info(
            "segment popularity from %d segments (%d of %d customers)", len(segment_ids), present.sum(), n_c
        )
    else:
        log.info("no customer segments: segment popularity falls back to global popularity")
        segment_ids = np.array([], dtype=np.int64)
        segment_pop = np.zeros((0, n_p))
    log.info(
        "model as of %s: %d customers, %d products, %d interactions; fitted in %.2f s",
        as_of.date(),
        n_c,
        n_p,
        len(data),
        time.monotonic() - started,
    )
    return Model(
        as_of=as_of,
        product_ids=np.asarray(product_ids),
        customer_ids=customer_ids,
        frequency=frequency,
        quantity=quantity,
        purchases=purchases,
        co_purchase=co_purchase,
        content=content_matrix,
        customer_neighbours=neighbours,
        global_popularity=global_pop,
        recent_popularity=recent_pop,
        segment_of=segment_of,
        segment_popularity=segment_pop,
        segment_ids=segment_ids,
        has_segments=has_segments,
    )


def recency_weighted(model: Model, half_life_days: float) -> sparse.csr_matrix:
    """customers x products: sum over purchase days of invoices x 0.5 ** (age / half-life)."""
    p = model.purchases
    weights = p["invoices"].to_numpy() * np.power(0.5, p["age_days"].to_numpy() / half_life_days)
    return sparse.csr_matrix(
        (weights, (p["row"].to_numpy(), p["col"].to_numpy())), shape=(model.n_customers, model.n_products)
    )


def trending(model: Model, half_life_days: float) -> np.ndarray:
    """Per product: purchases (customer-days) weighted 0.5 ** (age / half-life), scaled to [0, 1]."""
    p = model.purchases
    weights = np.power(0.5, p["age_days"].to_numpy() / half_life_days)
    return _scaled(np.bincount(p["col"].to_numpy(), weights=weights, minlength=model.n_products))


def binary_history(model: Model) -> sparse.csr_matrix:
    return (model.frequency > 0).astype(np.float64).tocsr()


def _row_max_scaled(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Every row divided by its largest value (rows then lie in [0, 1])."""
    matrix = sparse.csr_matrix(matrix)
    top = matrix.max(axis=1).toarray().ravel()
    top[top <= 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / top) @ matrix)


def _top_popular_rows(values: np.ndarray, row_of: np.ndarray, candidates: int) -> sparse.csr_matrix:
    """len(row_of) rows; row i holds the `candidates` largest entries of values[row_of[i]]."""
    values = np.atleast_2d(values)
    n_p = values.shape[1]
    keep = min(candidates, n_p)
    top = np.argsort(-values, axis=1, kind="stable")[:, :keep]
    cols = top[row_of]
    vals = np.take_along_axis(values, top, axis=1)[row_of]
    rows = np.repeat(np.arange(len(row_of)), keep)
    matrix = sparse.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(len(row_of), n_p))
    matrix.eliminate_zeros()
    return matrix


def _segment_popularity_rows(model: Model, rows: np.ndarray, candidates: int) -> sparse.csr_matrix:
    """The popularity of each customer's segment (global popularity without a segment)."""
    table = np.vstack([model.segment_popularity, model.global_popularity])  # last row: no segment
    seg = model.segment_of[rows]
    return _top_popular_rows(table, np.where(seg < 0, len(table) - 1, seg), candidates)


class Signals:
    """Customer-level matrices a list type needs, computed once per model and weights."""

    def __init__(self, model: Model, weights: BlendWeights):
        self.model = model
        self.weights = weights
        if weights.binary_history:
            self.history = binary_history(model)
        else:
            self.history = recency_weighted(model, weights.history_half_life_days)
        self.neighbour_purchases = (
            recency_weighted(model, weights.neighbour_half_life_days) if weights.similar_customers else None
        )
        self.trending = trending(model, weights.popularity_half_life_days) if weights.trending else None

    def block(self, rows: np.ndarray) -> dict[str, sparse.csr_matrix]:
        """The weighted signals of the discover list for customer rows `rows`, each in [0, 1]
        per row. Only signals with a non-zero weight are computed."""
        m, w = self.model, self.weights
        n = config.POPULAR_CANDIDATES
        zeros = np.zeros(len(rows), dtype=np.int64)
        out: dict[str, sparse.csr_matrix] = {}
        if w.co_purchase:
            out["co_purchase"] = _row_max_scaled(self.history[rows] @ m.co_purchase)
        if w.similar_customers:
            out["similar_customers"] = _row_max_scaled(m.customer_neighbours[rows] @ self.neighbour_purchases)
        if w.content:
            out["content"] = _row_max_scaled(self.history[rows] @ m.content)
        if w.trending:
            out["trending"] = _top_popular_rows(self.trending, zeros, n)
        if w.recent_popularity:
            out["recent_popularity"] = _top_popular_rows(m.recent_popularity, zeros, n)
        if w.global_popularity:
            out["global_popularity"] = _top_popular_rows(m.global_popularity, zeros, n)
        if w.segment_popularity:
            out["segment_popularity"] = _segment_popularity_rows(m, rows, n)
        return {name: getattr(w, name) * matrix for name, matrix in out.items()}


def customer_blocks(n_rows: int, block: int = config.CUSTOMER_BLOCK_ROWS) -> Iterator[np.ndarray]:
    for start in range(0, n_rows, block):
        yield np.arange(start, min(start + block, n_rows))


def _dominant_signal(signals: dict[str, sparse.csr_matrix], rows: np.ndarray, cols: np.ndarray) -> list[str]:
    """For each (row, col) picked, the name of the signal contributing most to its score."""
    names = list(signals)
    contributions = np.vstack([np.asarray(signals[name][rows, cols]).ravel() for name in names])
    return [names[i] for i in contributions.argmax(axis=0)]


def discover(
    model: Model,
    weights: BlendWeights,
    n: int = config.RECOMMENDATIONS_PER_LIST,
    with_reason: bool = True,
    signals: Signals | None = None,
) -> pd.DataFrame:
    """Top-n products not yet bought, per customer with history: customer_id, rank,
    product_id, score, reason."""
    signals = signals or Signals(model, weights)
    bought = binary_history(model)
    frames = []
    for rows in customer_blocks(model.n_customers):
        parts = signals.block(rows)
        scores = sparse.csr_matrix((len(rows), model.n_products))
        for matrix in parts.values():
            scores = scores + matrix
        scores = sparse.csr_matrix(scores - scores.multiply(bought[rows]))  # already bought: out
        scores.eliminate_zeros()
        r, c, rank, s = top_k_per_row(scores, n)
        frame = pd.DataFrame(
            {
                "customer_id": model.customer_ids[rows[r]],
                "rank": rank,
                "product_id": model.product_ids[c],
                "score": s,
            }
        )
        if with_reason:
            frame["reason"] = [REASONS[k] for k in _dominant_signal(parts, r, c)]
        frames.append(frame)
    return _concat(frames)


def buy_again(
    model: Model,
    weights: BlendWeights,
    n: int = config.RECOMMENDATIONS_PER_LIST,
    baseline: str | None = None,
    with_reason: bool = True,
) -> pd.DataFrame:
    """Top-n products the customer bought before.

    baseline='most_bought': the customer's own most-bought products (invoices, then units).
    None, the hybrid: recency-weighted purchase frequency (scaled per customer) plus
    `buy_again_trending` x the product's trending popularity.
    """
    if baseline == "most_bought":
        units = model.quantity.copy()
        units.data = units.data / (units.data.max() + 1.0)  # below one invoice: breaks ties only
        scores = sparse.csr_matrix(model.frequency + units)
        recency = None
    elif baseline is None:
        recency = _row_max_scaled(recency_weighted(model, weights.buy_again_half_life_days))
        popular = binary_history(model) @ sparse.diags(trending(model, weights.popularity_half_life_days))
        scores = sparse.csr_matrix(recency + weights.buy_again_trending * popular)
    else:
        raise ValueError(f"unknown buy_again baseline {baseline!r}: use 'most_bought' or None")
    r, c, rank, s = top_k_per_row(scores, n)
    frame = pd.DataFrame(
        {"customer_id": model.customer_ids[r], "rank": rank, "product_id": model.product_ids[c], "score": s}
    )
    if with_reason:
        if recency is None:
            frame["reason"] = REASONS["frequency"]
        else:
            by_recency = np.asarray(recency[r, c]).ravel() >= np.asarray(scores[r, c]).ravel() / 2
            frame["reason"] = np.where(by_recency, REASONS["recency"], REASONS["trending"])
    return frame


def cold_start(
    model: Model,
    customer_ids: np.ndarray,
    segment_of: pd.Series | None,
    n: int = config.RECOMMENDATIONS_PER_LIST,
) -> pd.DataFrame:
    """Lists for customers without history: their segment's popularity when the segment is
    known (`segment_of`: customer_id -> segment_id), else global popularity."""
    frames = []
    seg_pos = pd.Index(model.segment_ids)
    for customer_id in customer_ids:
        seg = segment_of.get(customer_id) if segment_of is not None else None
        pos = seg_pos.get_indexer([seg])[0] if seg is not None and model.has_segments else -1
        if pos >= 0:
            values, reason = model.segment_popularity[pos], REASONS["cold_start_segment"]
        else:
            values, reason = model.global_popularity, REASONS["cold_start_global"]
        top = np.argsort(-values, kind="stable")[:n]
        top = top[values[top] > 0]
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": customer_id,
                    "rank": np.arange(1, len(top) + 1),
                    "product_id": model.product_ids[top],
                    "score": values[top],
                    "reason": reason,
                }
            )
        )
    return _concat(frames)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    columns = ["customer_id", "rank", "product_id", "score", "reason"]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
