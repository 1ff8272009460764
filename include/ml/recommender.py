"""The hybrid recommender: the published discover and buy_again lists.

Built from strong, linear-cost parts, each a matrix of scores computed once per fit for a block
of customers and scaled to [0, 1] per customer (popularity per product):

discover (products the customer has not bought):
- similar_customers: what customers who buy like you bought lately (user-kNN through item
  space, half-life chosen by the tuning), signals.similar_customers_matrix;
- item_knn: item-kNN of the recency-weighted history (the item_knn baseline's parameters);
- co_purchase: the published co-purchase cosine neighbours of the history (co_purchase_only's);
- content: description neighbours of the history (reaches products nobody bought yet);
- trending: buyers in the recent window (the recent_popularity baseline's window);
- segment_popularity: the customer's segment (the segment_popularity baseline's parameters);
- als: implicit ALS factors (the als baseline's parameters), scored on the candidates only.

buy_again (products the customer bought): frequency (recency-weighted, own_most_bought's
half-life), trending, similar_customers, repeat_rate (how often the product's buyers buy it
again), item_knn, als.

Candidates are the union of each signal's best HYBRID_CANDIDATES products per customer and the
best sellers the customer has not bought (discover), or the customer's bought products
(buy_again). The weights are found by Optuna on the validation window (include/ml/tuning.py):
a trial is a weighted sum of the aligned signal values and one vectorised top-n.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from include import config
from include.ml import baselines, ranking, signals
from include.ml.signals import Fit

log = logging.getLogger(__name__)

DISCOVER_COMPONENTS = (
    "similar_customers",
    "item_knn",
    "co_purchase",
    "content",
    "trending",
    "segment_popularity",
    "als",
)
BUY_AGAIN_COMPONENTS = ("frequency", "trending", "similar_customers", "repeat_rate", "item_knn", "als")
COMPONENTS = {"discover": DISCOVER_COMPONENTS, "buy_again": BUY_AGAIN_COMPONENTS}
# the baseline whose tuned parameters a component uses
COMPONENT_SOURCES = {
    "item_knn": "item_knn",
    "co_purchase": "co_purchase_only",
    "content": "content_only",
    "trending": "recent_popularity",
    "segment_popularity": "segment_popularity",
    "als": "als",
    "frequency": "own_most_bought",
}

REASONS = {
    "similar_customers": "bought lately by customers who buy like you",
    "item_knn": "often bought with products you bought",
    "co_purchase": "customers who bought your products bought it too",
    "content": "similar to products you bought",
    "trending": "selling fast right now",
    "segment_popularity": "popular with customers of your segment",
    "als": "matches your taste (purchase patterns)",
    "frequency": "you buy it often",
    "repeat_rate": "customers often buy it again",
    "fill": "a best seller",
    "cold_start_segment": "new customer: popular with customers of your segment",
    "cold_start_global": "new customer: a best seller",
}


@dataclass(frozen=True)
class HybridSpec:
    """One list type's hybrid: its components' parameters, their weights, the half-life of the
    similar-customers signal. JSON-able (it travels through XCom)."""

    list_type: str
    weights: dict[str, float]
    half_life_days: float
    components: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> HybridSpec:
        return cls(**values)


def default_spec(list_type: str) -> HybridSpec:
    """Untuned hybrid (equal weights, the baselines' defaults): used when the history is too
    short to tune on a validation window."""
    comps = {name: baselines.METHODS[src].defaults for name, src in COMPONENT_SOURCES.items()}
    weights = dict.fromkeys(COMPONENTS[list_type], 1.0)
    half_life = float(
        config.SIMILAR_CUSTOMERS_HALF_LIVES[min(1, len(config.SIMILAR_CUSTOMERS_HALF_LIVES) - 1)]
    )
    return HybridSpec(list_type, weights, half_life, comps)


@dataclass
class Candidates:
    """A block's candidates (pattern: rows x products) and each component's value on them."""

    rows: np.ndarray
    pattern: sparse.csr_matrix
    values: dict[str, np.ndarray]
    tie: np.ndarray  # 1e-9 x all-time popularity (scaled): orders equal blends and the fill

    @property
    def pattern_rows(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.rows)), np.diff(self.pattern.indptr))


def _row_scaled(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    return ranking.canonical(ranking.row_max_scale(matrix))


def _per_row_max_scaled(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """values / the max of their row (rows delimited by indptr); rows with max <= 0 stay."""
    values = np.maximum(values, 0.0)
    lengths = np.diff(indptr)
    if len(values) == 0:
        return values
    starts = indptr[:-1][lengths > 0]
    top = np.maximum.reduceat(values, starts)
    per_row = np.zeros(len(lengths))
    per_row[lengths > 0] = top
    denom = np.repeat(np.where(per_row > 0, per_row, 1.0), lengths)
    return values / denom


def _ones(cols: np.ndarray, n_cols: int) -> sparse.csr_matrix:
    r, j = np.nonzero(cols >= 0)
    return sparse.csr_matrix((np.ones(len(r)), (r, cols[r, j])), shape=(cols.shape[0], n_cols))


def _popularity_component(fit: Fit, spec: HybridSpec) -> np.ndarray:
    window = spec.components.get("trending", {}).get("window_days", 30)
    return signals.scaled(fit.history.popularity(float(window)))


def _segment_component(fit: Fit, spec: HybridSpec) -> tuple[np.ndarray, np.ndarray]:
    """(per segment row scaled shares (segments+1 x products), segment row per customer row)."""
    params = spec.components.get("segment_popularity", baselines.METHODS["segment_popularity"].defaults)
    segment_of, ids = fit.segment_rows()
    window = params.get("window_days")
    shares = signals.segment_popularity(
        fit.history, segment_of, len(ids), None if window is None else float(window), float(params["shrink"])
    )
    top = shares.max(axis=1, keepdims=True)
    shares = shares / np.where(top > 0, top, 1.0)
    return shares, np.where(segment_of < 0, len(ids), segment_of)


def _item_component(fit: Fit, spec: HybridSpec, name: str) -> tuple[ranking.Right, float | None]:
    """(products x products prepared for ranking.top_n_product, history half-life) of a
    neighbour component, kept in the fit."""
    params = spec.components.get(name) or baselines.METHODS[COMPONENT_SOURCES[name]].defaults
    key = ("right", name, json.dumps(params, sort_keys=True, default=str))

    def build():
        if name == "item_knn":
            return ranking.prepare_right(baselines.item_knn_items(fit, params))
        source = fit.co_purchase() if name == "co_purchase" else fit.content()
        return ranking.prepare_right(baselines._truncate(source, params["neighbours"]))

    return fit._cached(key, build), params["half_life_days"]


def _als(fit: Fit, spec: HybridSpec) -> signals.Factors:
    p = spec.components.get("als") or baselines.METHODS["als"].defaults
    return fit.als(int(p["factors"]), float(p["regularization"]), float(p["alpha"]))


def candidates(
    fit: Fit,
    spec: HybridSpec,
    rows: np.ndarray,
    n: int,
    only: tuple[str, ...] | None = None,
    cache: dict | None = None,
) -> Candidates:
    """The candidates of customers `rows` and every component's values on them (components
    with weight 0 in `spec` are skipped unless listed in `only`). `cache` (a dict kept by the
    caller for the same rows) keeps the parts that do not depend on the half-life."""
    names = only or tuple(k for k in COMPONENTS[spec.list_type] if spec.weights.get(k, 0) > 0)
    if spec.list_type == "discover":
        return _discover_candidates(fit, spec, rows, n, names, {} if cache is None else cache)
    return _buy_again_candidates(fit, spec, rows, names, {} if cache is None else cache)


def _discover_parts(fit: Fit, spec: HybridSpec, rows, n, names) -> dict:
    """Everything of the discover candidates but the similar-customers signal."""
    h = fit.history
    c = config.HYBRID_CANDIDATES
    bought = h.bought[rows]
    parts: dict = {"sparse": {}, "extra": [], "lookups": {}}
    for name in ("item_knn", "co_purchase", "content"):
        if name in names:
            prepared, half_life = _item_component(fit, spec, name)
            history = h.weighted(None if half_life is None else float(half_life))[rows]
            top = ranking.top_n_product(history, prepared, c, exclude=bought, threads=fit.threads)
            parts["sparse"][name] = _row_scaled(ranking.top_n_to_csr(top, h.n_products))
    if "trending" in names:
        trend = _popularity_component(fit, spec)
        order = np.lexsort((np.arange(h.n_products), -h.popularity(), -trend))
        parts["extra"].append(_ones(ranking.first_unbought(order, bought, c), h.n_products))
        parts["lookups"]["trending"] = trend
    if "segment_popularity" in names:
        seg_shares, seg_row = _segment_component(fit, spec)
        seg = seg_row[rows]
        cols = np.full((len(rows), c), -1, dtype=np.int64)
        for s in np.unique(seg):  # a loop over the few segments
            members = np.flatnonzero(seg == s)
            order = np.lexsort((np.arange(h.n_products), -h.popularity(), -seg_shares[s]))
            cols[members] = ranking.first_unbought(order, bought[members], c)
        parts["extra"].append(_ones(cols, h.n_products))
        parts["lookups"]["segment_popularity"] = (seg_shares, seg)
    parts["extra"].append(_ones(ranking.first_unbought(fit.global_order, bought, n), h.n_products))
    return parts


def _discover_candidates(fit: Fit, spec: HybridSpec, rows, n, names, cache: dict) -> Candidates:
    h = fit.history
    key = ("discover", tuple(n for n in names if n != "similar_customers"))
    if key not in cache:
        cache[key] = _discover_parts(fit, spec, rows, n, names)
    parts = cache[key]
    sparse_parts = dict(parts["sparse"])
    if "similar_customers" in names:
        bought = h.bought[rows]
        top = ranking.top_n_product(
            bought,
            fit.similar_customers(spec.half_life_days),
            config.HYBRID_CANDIDATES,
            exclude=bought,
            threads=fit.threads,
        )
        sparse_parts["similar_customers"] = _row_scaled(ranking.top_n_to_csr(top, h.n_products))
    pattern = sum((m != 0).astype(np.float64) for m in [*sparse_parts.values(), *parts["extra"]])
    pattern = ranking.canonical(pattern)
    pattern.data[:] = 1.0
    values = {name: ranking.values_at(pattern, m).astype(np.float32) for name, m in sparse_parts.items()}
    cols = pattern.indices
    prow = np.repeat(np.arange(len(rows)), np.diff(pattern.indptr))
    if "trending" in parts["lookups"]:
        values["trending"] = parts["lookups"]["trending"][cols].astype(np.float32)
    if "segment_popularity" in parts["lookups"]:
        seg_shares, seg = parts["lookups"]["segment_popularity"]
        values["segment_popularity"] = seg_shares[seg[prow], cols].astype(np.float32)
    if "als" in names:
        raw = _als(fit, spec).values(rows[prow], cols)
        values["als"] = _per_row_max_scaled(raw, pattern.indptr).astype(np.float32)
    tie = 1e-9 * signals.scaled(h.popularity())[cols]
    return Candidates(rows, pattern, values, tie)


def _buy_again_candidates(fit: Fit, spec: HybridSpec, rows, names, cache: dict) -> Candidates:
    h = fit.history
    pattern = h.bought[rows].copy()
    cols = pattern.indices
    prow = np.repeat(np.arange(len(rows)), np.diff(pattern.indptr))
    key = ("buy_again", tuple(n for n in names if n != "similar_customers"))
    if key in cache:
        values = dict(cache[key])
        if "similar_customers" in names:
            m = ranking.canonical(
                ranking.product(pattern, fit.similar_customers(spec.half_life_days)).multiply(pattern)
            )
            values["similar_customers"] = _per_row_max_scaled(ranking.values_at(pattern, m), pattern.indptr)
        return Candidates(rows, pattern, values, 1e-9 * signals.scaled(h.popularity())[cols])
    values: dict[str, np.ndarray] = {}
    if "frequency" in names:
        p = spec.components.get("frequency") or baselines.METHODS["own_most_bought"].defaults
        weighted = h.weighted(float(p["half_life_days"]))[rows]
        values["frequency"] = _per_row_max_scaled(
            ranking.values_at(pattern, ranking.canonical(weighted)), pattern.indptr
        )
    if "trending" in names:
        values["trending"] = _popularity_component(fit, spec)[cols]
    if "repeat_rate" in names:
        values["repeat_rate"] = signals.scaled(h.repeat_rate())[cols]
    if "similar_customers" in names:
        m = ranking.canonical(
            ranking.product(pattern, fit.similar_customers(spec.half_life_days)).multiply(pattern)
        )
        values["similar_customers"] = _per_row_max_scaled(ranking.values_at(pattern, m), pattern.indptr)
    if "item_knn" in names:
        prepared, half_life = _item_component(fit, spec, "item_knn")
        history = h.weighted(None if half_life is None else float(half_life))[rows]
        m = ranking.canonical(ranking.product(history, prepared).multiply(pattern))
        values["item_knn"] = _per_row_max_scaled(ranking.values_at(pattern, m), pattern.indptr)
    if "als" in names:
        values["als"] = _per_row_max_scaled(_als(fit, spec).values(rows[prow], cols), pattern.indptr)
    cache[key] = {k: v for k, v in values.items() if k != "similar_customers"}
    tie = 1e-9 * signals.scaled(h.popularity())[cols]
    return Candidates(rows, pattern, values, tie)


def blend(cands: Candidates, weights: dict[str, float]) -> np.ndarray:
    """The hybrid score of every candidate: sum of weight x component value (+ the tie-breaker)."""
    score = cands.tie.copy()
    for name, w in weights.items():
        if w and name in cands.values:
            score += w * cands.values[name]
    return score


def top_n(cands: Candidates, weights: dict[str, float], n: int) -> ranking.TopN:
    """The n best candidates per customer by the blend (one vectorised pass)."""
    scored = sparse.csr_matrix(
        (blend(cands, weights), cands.pattern.indices, cands.pattern.indptr), shape=cands.pattern.shape
    )
    return ranking.top_n_sparse(scored, n)


def reasons(cands: Candidates, weights: dict[str, float], top: ranking.TopN) -> np.ndarray:
    """For each listed product, the component contributing most to its score ('fill' if none)."""
    row, col, _, _ = top.long_form()
    names = [k for k, w in weights.items() if w and k in cands.values]
    n_cols = np.int64(cands.pattern.shape[1])
    keys = cands.pattern_rows * n_cols + cands.pattern.indices
    pos = np.searchsorted(keys, row * n_cols + col)
    if not names:
        return np.full(len(row), "fill", dtype=object)
    contributions = np.vstack([weights[k] * cands.values[k][pos] for k in names])
    best = contributions.argmax(axis=0)
    out = np.array(names, dtype=object)[best]
    out[contributions.max(axis=0) <= 0] = "fill"
    return out


def prepare(fit: Fit, specs) -> None:
    """Build the fit's per-product signals of the hybrids once, before the customer blocks:
    ALS in a side thread while the neighbour matrices build here (they overlap only where
    neither holds the GIL: implicit's fit mostly does, see include/ml/side_process.py), or after
    them above ALS_BESIDE_MAX_PAIRS purchase pairs (the two peaks would add up)."""
    from concurrent.futures import ThreadPoolExecutor

    specs = list(specs)
    h = fit.history
    h.bought, h.popularity(), fit.global_order  # shared by every block
    beside = h.n_pairs <= config.ALS_BESIDE_MAX_PAIRS
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="als") as side:
        with_als = [s for s in specs if s.weights.get("als", 0) > 0][:1]
        als = [side.submit(_als, fit, s) for s in with_als if beside]
        for spec in specs:
            for name in ("item_knn", "co_purchase", "content"):
                if spec.weights.get(name, 0) > 0:
                    _item_component(fit, spec, name)
            if spec.weights.get("similar_customers", 0) > 0:
                fit.similar_customers(spec.half_life_days)
        for future in als:
            future.result()
    fit.release("item_pool", "content", "co_purchase")  # the prepared matrices hold what is needed
    if not beside:
        for spec in with_als:
            _als(fit, spec)


_REASON_CODES = pd.Index(list(REASONS))


def customer_blocks(n_rows: int, block: int = config.CUSTOMER_BLOCK_ROWS, rows: np.ndarray | None = None):
    """Blocks of `block` customer rows: of 0..n_rows-1, or of `rows` (sorted)."""
    rows = np.arange(n_rows) if rows is None else np.asarray(rows, dtype=np.int64)
    for start in range(0, len(rows), block):
        yield rows[start : start + block]


def lists(fit: Fit, spec: HybridSpec, n: int) -> pd.DataFrame:
    """The hybrid lists of every customer of the fit (customer_id, rank, product_id, score,
    reason) in one frame (see list_blocks)."""
    return _concat(list(list_blocks(fit, spec, n)))


def list_blocks(fit: Fit, spec: HybridSpec, n: int, customer_rows: np.ndarray | None = None):
    """The hybrid lists, one frame per block of CUSTOMER_BLOCK_ROWS customers (a caller can
    write each block away: memory stays one block's), logging progress. `customer_rows`: only these
    customer rows of the fit (sorted; default all): a customer's list does not depend on the
    other customers of its block."""
    started = time.monotonic()
    total = fit.history.n_customers if customer_rows is None else len(customer_rows)
    done = 0
    for rows in customer_blocks(fit.history.n_customers, rows=customer_rows):
        cands = candidates(fit, spec, rows, n)
        top = top_n(cands, spec.weights, n)
        if spec.list_type == "discover":
            top = baselines.discover_fill(fit, rows, top, n)
        why = reasons(cands, spec.weights, top)
        row, col, rank, score = top.long_form()
        yield (
            pd.DataFrame(
                {
                    "customer_id": fit.history.customer_ids[rows[row]],
                    "rank": rank.astype(np.int16),
                    # codes into the catalogue and the reasons: no Python string per row
                    "product_id": pd.Categorical.from_codes(
                        col, categories=pd.Index(fit.history.product_ids)
                    ),
                    "score": np.nan_to_num(score).astype(np.float32),
                    "reason": pd.Categorical.from_codes(
                        _REASON_CODES.get_indexer(why), categories=_REASON_CODES.map(REASONS)
                    ),
                }
            )
        )
        done += len(rows)
        elapsed = time.monotonic() - started
        rate = done / elapsed if elapsed > 0 else float("inf")
        log.info(
            "%s lists: %d / %d customers (%.0f per s, %.0f s left)",
            spec.list_type,
            done,
            total,
            rate,
            (total - done) / rate if rate else 0.0,
        )


def cold_start(
    fit: Fit, spec: HybridSpec | None, customer_ids: np.ndarray, segment_of: pd.Series | None, n: int
) -> pd.DataFrame:
    """Lists for customers without history: their segment's popularity when the segment is
    known (`segment_of`: customer_id -> segment_id), else the all-time best sellers."""
    if len(customer_ids) == 0:
        return _concat([])
    shares, _ = _segment_component(fit, spec or default_spec("discover"))
    _, ids = fit.segment_rows()
    known = (
        segment_of.reindex(customer_ids) if segment_of is not None else pd.Series(np.nan, index=customer_ids)
    )
    pos = (
        pd.Index(ids).get_indexer(known.fillna(-1).to_numpy()) if len(ids) else np.full(len(customer_ids), -1)
    )
    seg = np.where(pos < 0, len(ids), pos)
    frames = []
    popularity = signals.scaled(fit.history.popularity())
    for s in np.unique(seg):  # one ranking per segment, repeated for its new customers
        members = customer_ids[seg == s]
        values = shares[s] if s < len(ids) else popularity
        reason = REASONS["cold_start_segment"] if s < len(ids) else REASONS["cold_start_global"]
        top = signals.ranking_of(values)[:n]
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": np.repeat(members, len(top)),
                    "rank": np.tile(np.arange(1, len(top) + 1), len(members)),
                    "product_id": np.tile(fit.history.product_ids[top], len(members)),
                    "score": np.tile(values[top], len(members)),
                    "reason": reason,
                }
            )
        )
    return _concat(frames)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    columns = ["customer_id", "rank", "product_id", "score", "reason"]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
