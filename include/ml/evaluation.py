"""Offline evaluation of the recommendation lists on a time split.

The last `TEST_WINDOW_DAYS` days are the test window; everything before is training. A customer
is evaluated when they bought in both periods and the test holds at least one relevant product
for the list: for `discover`, a product they had not bought in training; for `buy_again`, one
they had. Lists are scored at k = 10 side by side with the baselines.

Blend weights are tuned on a validation window: the last `VALIDATION_WINDOW_DAYS` days of the
training period, with a model fitted on what precedes it. The test window is never looked at
while tuning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from include.errors import BadInputError
from include.ml import recommend
from include.ml.recommend import BlendWeights, Model

log = logging.getLogger(__name__)

K = 10
METRIC_COLUMNS = ("precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "hit_rate_at_10", "coverage")

DISCOVER_BASELINES = {
    "global_popularity": "global_popularity",
    "recent_popularity": "recent_popularity",
    "segment_popularity": "segment_popularity",
    "content_only": "content",
    "co_purchase_only": "co_purchase",
}
BUY_AGAIN_BASELINES = ("own_most_bought",)
HYBRID = "hybrid"


@dataclass(frozen=True)
class Split:
    """A time split at day grain: train = [train_start, train_end], test = [test_start, test_end]."""

    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    def as_dates(self) -> dict:
        return {
            "train_start_date": self.train_start.date(),
            "train_end_date": self.train_end.date(),
            "test_start_date": self.test_start.date(),
            "test_end_date": self.test_end.date(),
        }


class SplitError(BadInputError, ValueError):
    """The time split cannot be made (window too short or too long for the data)."""


def time_split(dates: pd.Series, test_days: int, end: pd.Timestamp | None = None) -> Split:
    """The last `test_days` days up to `end` (default: the last date in `dates`) are the test."""
    if test_days < 1:
        raise SplitError(f"test_window_days must be at least 1, got {test_days}")
    days = pd.to_datetime(dates).dt.normalize()
    end = pd.Timestamp(end).normalize() if end is not None else days.max()
    start = days.min()
    test_start = end - pd.Timedelta(days=test_days - 1)
    if test_start <= start:
        raise SplitError(
            f"ml.customer_product_interactions: {test_days} test days leave no training data "
            f"(dates {start.date()} .. {end.date()})"
        )
    return Split(start, test_start - pd.Timedelta(days=1), test_start, end)


def relevant_products(interactions: pd.DataFrame, split: Split, list_type: str) -> pd.DataFrame:
    """(customer_id, product_id) bought in the test window by customers who also bought in
    training: new products for 'discover', previously bought ones for 'buy_again'."""
    day = pd.to_datetime(interactions["invoice_date"]).dt.normalize()
    train = interactions.loc[day <= split.train_end, ["customer_id", "product_id"]].drop_duplicates()
    test = interactions.loc[
        (day >= split.test_start) & (day <= split.test_end), ["customer_id", "product_id"]
    ].drop_duplicates()
    test = test[test["customer_id"].isin(train["customer_id"].unique())]
    seen = test.merge(train.assign(seen=True), on=["customer_id", "product_id"], how="left")["seen"]
    seen = seen.fillna(False).astype(bool).to_numpy()
    if list_type == "discover":
        keep = ~seen
    elif list_type == "buy_again":
        keep = seen
    else:
        raise ValueError(f"unknown list_type {list_type!r}: use 'discover' or 'buy_again'")
    return test[keep].reset_index(drop=True)


def metrics_at_k(
    recommended: pd.DataFrame, relevant: pd.DataFrame, catalogue_size: int, k: int = K
) -> dict[str, float]:
    """Mean precision, recall, NDCG, MAP and hit rate at k over the customers of `relevant`
    (a customer without a list scores 0), and catalogue coverage: distinct products in their
    lists / catalogue_size.

    recommended: customer_id, rank (1 = first), product_id. relevant: customer_id, product_id.
    Binary relevance; NDCG's ideal puts min(|relevant|, k) hits first; MAP@k divides by
    min(|relevant|, k).
    """
    users = relevant.groupby("customer_id").size().rename("n_relevant")
    n_users = len(users)
    if n_users == 0:
        return {**dict.fromkeys(METRIC_COLUMNS, 0.0), "users_evaluated": 0}
    recs = recommended[(recommended["rank"] <= k) & recommended["customer_id"].isin(users.index)]
    recs = recs.sort_values(["customer_id", "rank"])
    hits = recs.merge(relevant.assign(hit=1), on=["customer_id", "product_id"], how="left")
    hits["hit"] = hits["hit"].fillna(0).astype(np.float64)
    hits["hits_so_far"] = hits.groupby("customer_id")["hit"].cumsum()
    hits["gain"] = hits["hit"] / np.log2(hits["rank"] + 1.0)
    hits["precision_here"] = hits["hit"] * hits["hits_so_far"] / hits["rank"]
    per_user = hits.groupby("customer_id").agg(
        hits=("hit", "sum"), dcg=("gain", "sum"), ap_sum=("precision_here", "sum")
    )
    per_user = per_user.reindex(users.index, fill_value=0.0).join(users)
    ideal_hits = np.minimum(per_user["n_relevant"].to_numpy(), k)
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    idcg = discounts[ideal_hits - 1]
    return {
        "precision_at_10": float((per_user["hits"] / k).mean()),
        "recall_at_10": float((per_user["hits"] / per_user["n_relevant"]).mean()),
        "ndcg_at_10": float((per_user["dcg"] / idcg).mean()),
        "map_at_10": float((per_user["ap_sum"] / ideal_hits).mean()),
        "hit_rate_at_10": float((per_user["hits"] > 0).mean()),
        "coverage": float(recs["product_id"].nunique() / catalogue_size) if catalogue_size else 0.0,
        "users_evaluated": int(n_users),
    }


def _only(customers: pd.Series, lists: pd.DataFrame) -> pd.DataFrame:
    return lists[lists["customer_id"].isin(customers.unique())]


def method_lists(
    model: Model, weights: BlendWeights, list_type: str
) -> dict[str, Callable[[], pd.DataFrame]]:
    """Every method of a list type, lazily: name -> function returning its lists."""
    if list_type == "discover":
        methods = {
            name: (lambda s=signal: recommend.discover(model, recommend.single_signal(s), with_reason=False))
            for name, signal in DISCOVER_BASELINES.items()
        }
        methods[HYBRID] = lambda: recommend.discover(model, weights, with_reason=False)
        return methods
    return {
        "own_most_bought": lambda: recommend.buy_again(
            model, weights, baseline="most_bought", with_reason=False
        ),
        HYBRID: lambda: recommend.buy_again(model, weights, with_reason=False),
    }


def evaluate_methods(
    interactions: pd.DataFrame, split: Split, model: Model, weights: BlendWeights
) -> pd.DataFrame:
    """One row per method and list type: the metrics at 10 on the split's test window."""
    rows = []
    for list_type in ("discover", "buy_again"):
        relevant = relevant_products(interactions, split, list_type)
        for method, build in method_lists(model, weights, list_type).items():
            started = time.monotonic()
            lists = _only(relevant["customer_id"], build())
            scores = metrics_at_k(lists, relevant, model.n_products)
            rows.append({"method": method, "list_type": list_type, **scores, **split.as_dates()})
            log.info(
                "%s %-20s ndcg@10 %.4f  precision@10 %.4f  users %d  (%.1f s)",
                list_type,
                method,
                scores["ndcg_at_10"],
                scores["precision_at_10"],
                scores["users_evaluated"],
                time.monotonic() - started,
            )
    return pd.DataFrame(rows)


# Values tried for each blend parameter (coordinate ascent, see `tune`).
DISCOVER_GRID = {
    "similar_customers": (0.0, 0.5, 1.0, 2.0, 4.0),
    "co_purchase": (0.25, 0.5, 1.0, 2.0),  # always part of the blend
    "content": (0.0, 0.1, 0.3, 0.6),
    "trending": (0.0, 0.25, 0.5, 1.0, 2.0),
    "segment_popularity": (0.0, 0.25, 0.5),
    "history_half_life_days": (30.0, 90.0, 180.0, 365.0),
    "neighbour_half_life_days": (7.0, 14.0, 30.0, 60.0),
    "popularity_half_life_days": (3.0, 7.0, 14.0),
}
BUY_AGAIN_GRID = {
    "buy_again_half_life_days": (15.0, 30.0, 60.0, 120.0, 365.0, 730.0),
    "buy_again_trending": (0.0, 0.1, 0.2, 0.4, 0.8, 1.6),
}
TUNING_PASSES = 2


def tune(
    interactions: pd.DataFrame, split: Split, model: Model, start: BlendWeights | None = None
) -> tuple[BlendWeights, pd.DataFrame]:
    """Blend weights by coordinate ascent on NDCG@10 over `split`, a validation split inside the
    training period: each parameter in turn takes the value of its grid that scores best with
    the others fixed, for TUNING_PASSES passes. Deterministic (grids in a fixed order; ties
    keep the current value). Returns the weights and every trial."""
    best = start or BlendWeights()
    trials = []
    for list_type, grid in (("discover", DISCOVER_GRID), ("buy_again", BUY_AGAIN_GRID)):
        relevant = relevant_products(interactions, split, list_type)
        customers = relevant["customer_id"]
        cache: dict[BlendWeights, float] = {}

        def score(
            weights: BlendWeights, list_type=list_type, relevant=relevant, customers=customers, cache=cache
        ):
            if weights not in cache:
                if list_type == "discover":
                    lists = recommend.discover(model, weights, with_reason=False)
                else:
                    lists = recommend.buy_again(model, weights, with_reason=False)
                cache[weights] = metrics_at_k(_only(customers, lists), relevant, model.n_products)[
                    "ndcg_at_10"
                ]
                trials.append({"list_type": list_type, **weights.to_dict(), "ndcg_at_10": cache[weights]})
            return cache[weights]

        current = score(best)
        for _ in range(TUNING_PASSES):
            for name, values in grid.items():
                for value in values:
                    candidate = replace(best, **{name: value})
                    if all(
                        getattr(candidate, s) == 0 for s in ("co_purchase", "similar_customers", "content")
                    ):
                        continue  # a discover list needs at least one personal signal
                    value_score = score(candidate)
                    if value_score > current:
                        best, current = candidate, value_score
        log.info("tuned %s on the validation window: ndcg@10 %.4f with %s", list_type, current, best)
    return best, pd.DataFrame(trials)
