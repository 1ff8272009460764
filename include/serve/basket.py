"""Recommendations for a live basket, computed at request time from one run's published marts.

Every product of the catalogue has a short list of weighted neighbours, three signals kept side
by side in one compressed sparse row structure (`NeighbourIndex`, built once per loaded run):

- `pair`: the products bought on the same invoices (marts.product_pairs), weight = confidence
  P(other | product), at most PAIRS_PER_PRODUCT per product (the most confident ones);
- `co_purchase`: the cosine neighbours by customers who bought both (marts.product_similarity);
- `content`: the cosine neighbours by description (marts.product_similarity).

A basket's score of a candidate is the weighted sum of its neighbour weights over the basket's
products; basket products and excluded ones are never proposed; ties go to the product id order.
The work is O(basket x neighbours per product), never the catalogue squared. Fewer candidates
than asked: the run's best sellers fill the list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIGNALS = ("pair", "co_purchase", "content")
# Relative weights of the signals (all in [0, 1] before weighting): co-purchase 1.0, content 0.1
# (content only breaks ties among products without purchase evidence); the invoice pairs are the
# same kind of evidence as co-purchase, so they weigh the same.
WEIGHTS = {"pair": 1.0, "co_purchase": 1.0, "content": 0.1}
PAIRS_PER_PRODUCT = 50
REASONS = {
    "pair": "bought on the same invoices as {}",
    "co_purchase": "bought by the customers who bought {}",
    "content": "similar to {}",
    "best_seller": "a best seller",
}


@dataclass(frozen=True)
class NeighbourIndex:
    """Neighbours of product position p: rows indptr[p]:indptr[p + 1] of (target, weight, signal)."""

    indptr: np.ndarray  # int64, len = products + 1
    target: np.ndarray  # int32 product positions
    weight: np.ndarray  # float64, already multiplied by the signal's weight
    signal: np.ndarray  # int8 index into SIGNALS
    best_sellers: np.ndarray  # int32 product positions, best first
    best_seller_scores: np.ndarray  # float64, share of invoices

    @property
    def products(self) -> int:
        return len(self.indptr) - 1


def build_index(
    products: int,
    source: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
    signal: np.ndarray,
    best_sellers: np.ndarray,
    best_seller_scores: np.ndarray,
    weights: dict[str, float] = WEIGHTS,
) -> NeighbourIndex:
    """Edges (source position, target position, weight in [0, 1], index into SIGNALS), in any
    order; `best_sellers`: product positions, best first, with their scores."""
    signal = np.asarray(signal, dtype=np.int8)
    weight = np.asarray(weight, dtype=np.float64) * np.array([weights[s] for s in SIGNALS])[signal]
    source, target = np.asarray(source, dtype=np.int64), np.asarray(target, dtype=np.int64)
    keep = (weight > 0) & (source != target)
    source, target, weight, signal = source[keep], target[keep], weight[keep], signal[keep]
    order = np.lexsort((target, signal, source))
    counts = np.bincount(source, minlength=products)
    return NeighbourIndex(
        indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        target=target[order].astype(np.int32),
        weight=weight[order],
        signal=signal[order],
        best_sellers=np.asarray(best_sellers, dtype=np.int32),
        best_seller_scores=np.asarray(best_seller_scores, dtype=np.float64),
    )


@dataclass(frozen=True)
class Pick:
    position: int
    score: float
    signal: str  # a key of REASONS
    because_of: int | None  # the basket product position contributing most, if any


def recommend(index: NeighbourIndex, basket: list[int], exclude: list[int], n: int) -> list[Pick]:
    """The `n` best products for a basket of product positions (see the module docstring)."""
    basket_arr = np.array(sorted(set(basket)), dtype=np.int64)  # (np.unique costs more here)
    blocked = np.zeros(index.products, dtype=bool)
    blocked[basket_arr] = True
    if exclude:
        blocked[exclude] = True
    bounds = [(int(index.indptr[p]), int(index.indptr[p + 1])) for p in basket_arr.tolist()]
    rows = np.concatenate([np.arange(a, b) for a, b in bounds]) if bounds else np.empty(0, np.int64)
    source = np.repeat(basket_arr, [b - a for a, b in bounds])
    target = index.target[rows]
    keep = ~blocked[target]
    rows, source, target = rows[keep], source[keep], target[keep]
    weight, signal = index.weight[rows], index.signal[rows]
    picks: list[Pick] = []
    if len(rows):
        scores = np.bincount(target, weights=weight, minlength=index.products)
        candidates = np.flatnonzero(scores > 0)
        # best score first, then the lower position (positions follow the product id order)
        chosen = candidates[np.lexsort((candidates, -scores[candidates]))[:n]]
        # the reason of each chosen product: its heaviest (basket product, signal) contribution
        mine = np.isin(target, chosen)
        t, w, s, src = target[mine], weight[mine], signal[mine], source[mine]
        heaviest = np.lexsort((-w, t))
        firsts = heaviest[np.r_[True, t[heaviest][1:] != t[heaviest][:-1]]]
        reason = {int(t[i]): (SIGNALS[int(s[i])], int(src[i])) for i in firsts}
        for pos in chosen:
            why, because = reason[int(pos)]
            picks.append(Pick(int(pos), float(scores[pos]), why, because))
    if len(picks) < n:  # fill with best sellers
        taken = {p.position for p in picks}
        for pos, score in zip(index.best_sellers.tolist(), index.best_seller_scores.tolist(), strict=True):
            if len(picks) >= n:
                break
            if not blocked[pos] and pos not in taken:
                picks.append(Pick(pos, score, "best_seller", None))
    return picks
