"""Offline evaluation of recommendation lists on a time split: windows, relevant products,
metrics at 10 per customer, and paired bootstrap intervals.

The last `test_window_days` days are the test window; the `validation_window_days` before it
are the validation window, inside training, on which every method is tuned. A customer is
evaluated on a window when they bought before it and the window holds at least one relevant
product for the list: for `discover`, a product they had not bought before; for `buy_again`,
one they had. Products first sold inside the window count as relevant (a list could not show
them: the catalogue is what was sold before the window).

Metrics are computed per customer (vectorised: one pass over the rows x 10 picks), then
averaged; `paired_bootstrap` resamples customers (the same resamples for every method) to give
each method's NDCG@10 difference to the hybrid a 95 % interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from include.errors import BadInputError
from include.ml import ranking

K = 10
METRIC_COLUMNS = (
    "precision_at_10",
    "recall_at_10",
    "ndcg_at_10",
    "map_at_10",
    "hit_rate_at_10",
    "f1_at_10",
    "coverage",
)
# One row of published.recommendation_metrics (without run_id): what protocol.run returns.
MART_COLUMNS = (
    "method",
    "list_type",
    *METRIC_COLUMNS,
    "users_evaluated",
    "train_start_date",
    "train_end_date",
    "test_start_date",
    "test_end_date",
    "ndcg_diff_vs_hybrid_low",
    "ndcg_diff_vs_hybrid_high",
    "evaluation_status",
    "evaluation_note",
)
HYBRID = "hybrid"
LIST_TYPES = ("discover", "buy_again")


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


@dataclass(frozen=True)
class Plan:
    """The evaluation windows, or why there are none (the lists are still built)."""

    test: Split | None
    validation: Split | None
    reason: str | None = None

    @property
    def evaluated(self) -> bool:
        return self.reason is None


def plan(dates: pd.Series, test_days: int, validation_days: int) -> Plan:
    """Test = the last `test_days` days, validation = the `validation_days` before; both need
    training days before them. Too short a history gives a Plan with the reason, no error."""
    if test_days < 1 or validation_days < 1:
        raise SplitError(
            f"test_window_days and VALIDATION_WINDOW_DAYS must be at least 1, got {test_days}, {validation_days}"
        )
    days = pd.to_datetime(dates).dt.normalize()
    first, last = days.min(), days.max()
    span = (last - first).days + 1
    if span <= test_days + validation_days:
        return Plan(
            None,
            None,
            f"history of {span} day(s) ({first.date()} .. {last.date()}) is too short for a "
            f"{validation_days}-day validation and a {test_days}-day test window after some training days",
        )
    test = time_split(days, test_days)
    validation = time_split(days[days <= test.train_end], validation_days)
    return Plan(test, validation)


@dataclass(frozen=True)
class Relevant:
    """The evaluated customers of one window and list type and what they bought in it."""

    rows: np.ndarray  # the customers' rows in the History fitted before the window
    customer_ids: np.ndarray
    matrix: sparse.csr_matrix  # customers x catalogue, 1 = relevant (in the catalogue)
    n_relevant: np.ndarray  # relevant products per customer, the catalogue's or not

    @property
    def n_customers(self) -> int:
        return len(self.rows)


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


def relevant_for(
    history,
    interactions: pd.DataFrame,
    split: Split,
    list_type: str,
    max_customers: int | None = None,
    seed: int = 0,
) -> Relevant:
    """The Relevant of `split`'s test window for a History fitted before it (customers beyond
    `max_customers` are left out by a seeded sample)."""
    pairs = relevant_products(interactions, split, list_type)
    customers = np.sort(pairs["customer_id"].unique())
    if max_customers is not None and len(customers) > max_customers:
        customers = np.sort(np.random.default_rng(seed).choice(customers, max_customers, replace=False))
        pairs = pairs[pairs["customer_id"].isin(customers)]
    rows = history.rows_of(customers)
    index = pd.Index(customers)
    counts = pairs.groupby("customer_id").size().reindex(customers).to_numpy()
    cols = pd.Index(history.product_ids).get_indexer(pairs["product_id"])
    inside = cols >= 0
    matrix = sparse.csr_matrix(
        (np.ones(int(inside.sum())), (index.get_indexer(pairs["customer_id"][inside]), cols[inside])),
        shape=(len(customers), history.n_products),
    )
    matrix = ranking.canonical(matrix)
    matrix.data[:] = 1.0
    return Relevant(rows, customers, matrix, counts.astype(np.int64))


def per_customer(top: ranking.TopN, relevant: Relevant, k: int = K) -> dict[str, np.ndarray]:
    """Precision, recall, NDCG, AP, hit and F1 at k for every evaluated customer (arrays in
    the order of relevant.rows); a customer without a list scores 0. Binary relevance; NDCG's
    ideal puts min(relevant, k) hits first; AP divides by min(relevant, k)."""
    cols = top.cols[:, :k]
    if cols.shape[1] < k:
        cols = np.hstack([cols, np.full((cols.shape[0], k - cols.shape[1]), -1)])
    n_users, n_cols = relevant.n_customers, np.int64(relevant.matrix.shape[1])
    rel_rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(relevant.matrix.indptr))
    rel_keys = rel_rows * n_cols + relevant.matrix.indices
    pick_keys = np.arange(n_users, dtype=np.int64)[:, None] * n_cols + np.maximum(cols, 0)
    pos = np.minimum(np.searchsorted(rel_keys, pick_keys), max(len(rel_keys) - 1, 0))
    hits = (cols >= 0) & (rel_keys[pos] == pick_keys) if len(rel_keys) else np.zeros(cols.shape, bool)
    hits = hits.astype(np.float64)
    n_rel = np.maximum(relevant.n_relevant, 1)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.minimum(n_rel, k)
    idcg = np.cumsum(discounts)[ideal - 1]
    n_hits = hits.sum(axis=1)
    precision = n_hits / k
    recall = n_hits / n_rel
    cumulative = np.cumsum(hits, axis=1)
    ap = (hits * cumulative / np.arange(1, k + 1)).sum(axis=1) / ideal
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "precision_at_10": precision,
        "recall_at_10": recall,
        "ndcg_at_10": (hits * discounts).sum(axis=1) / idcg,
        "map_at_10": ap,
        "hit_rate_at_10": (n_hits > 0).astype(np.float64),
        "f1_at_10": f1,
    }


def summary(per_user: dict[str, np.ndarray], top: ranking.TopN, catalogue_size: int, k: int = K) -> dict:
    """Means over the customers, coverage (distinct listed products / catalogue) and count."""
    listed = top.cols[:, :k]
    distinct = len(np.unique(listed[listed >= 0]))
    n_users = len(next(iter(per_user.values()))) if per_user else 0
    out = {name: float(values.mean()) if n_users else 0.0 for name, values in per_user.items()}
    out["coverage"] = distinct / catalogue_size if catalogue_size else 0.0
    out["users_evaluated"] = int(n_users)
    return out


def ndcg(top: ranking.TopN, relevant: Relevant) -> float:
    """Mean NDCG@10 (the tuning objective)."""
    return float(per_customer(top, relevant)["ndcg_at_10"].mean()) if relevant.n_customers else 0.0


def metrics_at_k(
    recommended: pd.DataFrame, relevant: pd.DataFrame, catalogue_size: int, k: int = K
) -> dict[str, float]:
    """Mean precision, recall, NDCG, MAP, hit rate and F1 at k over the customers of `relevant`
    (a customer without a list scores 0), and catalogue coverage: distinct products in their
    lists / catalogue_size. recommended: customer_id, rank (1 = first), product_id; relevant:
    customer_id, product_id (frames; the same computation as the vectorised per_customer)."""
    customers = np.sort(relevant["customer_id"].unique())
    if len(customers) == 0:
        return {**dict.fromkeys(METRIC_COLUMNS, 0.0), "users_evaluated": 0}
    products = pd.Index(pd.unique(pd.concat([relevant["product_id"], recommended["product_id"]])))
    index = pd.Index(customers)
    recs = recommended[(recommended["rank"] <= k) & recommended["customer_id"].isin(customers)]
    cols = np.full((len(customers), k), -1, dtype=np.int64)
    cols[index.get_indexer(recs["customer_id"]), recs["rank"].to_numpy() - 1] = products.get_indexer(
        recs["product_id"]
    )
    rel = relevant.drop_duplicates()
    matrix = ranking.canonical(
        sparse.csr_matrix(
            (
                np.ones(len(rel)),
                (index.get_indexer(rel["customer_id"]), products.get_indexer(rel["product_id"])),
            ),
            shape=(len(customers), len(products)),
        )
    )
    matrix.data[:] = 1.0
    counts = rel.groupby("customer_id").size().reindex(customers).to_numpy()
    target = Relevant(np.arange(len(customers)), customers, matrix, counts)
    top = ranking.TopN(cols, np.zeros(cols.shape))
    return summary(per_customer(top, target, k), top, catalogue_size, k)


def paired_bootstrap(
    differences: np.ndarray, resamples: int, seed: int, level: float = 0.95, chunk: int = 250
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of the mean of each column of `differences` (customers x methods)
    over `resamples` resamples of the customers, the same resamples for every column (paired).
    Vectorised: a resample is a row of multinomial counts, the means one matrix product."""
    differences = np.atleast_2d(np.asarray(differences, dtype=np.float64))
    n = differences.shape[0]
    if n == 0:
        nan = np.full(differences.shape[1], np.nan)
        return nan, nan
    rng = np.random.default_rng(seed)
    means = np.empty((resamples, differences.shape[1]))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size)
        means[start : start + size] = counts @ differences / n
    alpha = (1.0 - level) / 2.0
    return np.quantile(means, alpha, axis=0), np.quantile(means, 1.0 - alpha, axis=0)
