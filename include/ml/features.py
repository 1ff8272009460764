"""Customer features for segmentation: which population, which columns, and the preprocessing.

Two populations:
- `transactions`: Online Retail customers, features built by `sql/ml/customer_features.sql`
  into `ml.customer_features` (recency, frequency, net monetary, tenure, basket, ...).
- `customer_profiles`: the customer_personality layout, `sql/ml/profile_features.sql` into
  `ml.profile_features` (age, income, household, spend per category, channels, campaigns, ...).

Preprocessing (`FeaturePreprocessor`), in this order:
1. fill: `avg_days_between_orders` of one-invoice customers <- their `tenure_days` (the days since
   that invoice: a lower bound of the gap to the next order); a missing `income` <- the median.
2. log: `log1p` of the right-skewed money, count and day columns (`log_features`). The models
   see gross revenue, not the net `monetary`: net revenue can be zero or negative (returns of
   sales made before the data starts), and its log would split those few customers off as a
   cluster of their own; returns enter through `return_rate` instead. (A column listed in
   `signed_log_features` gets `sign(x) * log1p(|x|)`.)
3. scale: `StandardScaler` (mean 0, standard deviation 1 per column), so that no feature
   dominates the Euclidean distances K-means, Ward and DBSCAN use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from include.db.bulk import read_frame
from include.errors import BadInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Population:
    """Everything that differs between the two customer populations."""

    name: str
    features_table: str  # ml.<table>
    features_sql: str  # sql/<file>
    model_features: tuple[str, ...]  # the columns the models see, in this order
    log_features: tuple[str, ...]  # log1p
    signed_log_features: tuple[str, ...] = ()  # sign(x) * log1p(|x|)
    fill_from: dict[str, str] = field(default_factory=dict)  # missing value <- another column
    fill_median: tuple[str, ...] = ()  # missing value <- the column's median
    value_column: str = "monetary"  # segment ids are ordered by its mean, highest first
    naming_features: tuple[str, ...] = ()  # the profile the segment names are read from
    marts: tuple[str, str, str] = ("customer_segments", "segment_profiles", "segmentation_metrics")


TRANSACTIONS = Population(
    name="transactions",
    features_table="customer_features",
    features_sql="ml/customer_features.sql",
    model_features=(
        "recency_days",
        "frequency",
        "gross_revenue",
        "tenure_days",
        "avg_basket_value",
        "distinct_products",
        "return_rate",
        "avg_days_between_orders",
    ),
    log_features=(
        "recency_days",
        "frequency",
        "gross_revenue",
        "avg_basket_value",
        "distinct_products",
        "avg_days_between_orders",
    ),
    fill_from={"avg_days_between_orders": "tenure_days"},
    value_column="monetary",
    naming_features=(
        "recency_days",
        "frequency",
        "monetary",
        "tenure_days",
        "avg_basket_value",
        "return_rate",
    ),
)

# Spend per product category and purchases per channel: skewed counts, log1p before scaling.
_PROFILE_COUNTS = (
    "spend_wines",
    "spend_fruits",
    "spend_meat",
    "spend_fish",
    "spend_sweets",
    "spend_gold",
    "purchases_deals",
    "purchases_web",
    "purchases_catalog",
    "purchases_store",
    "web_visits_month",
    "accepted_campaigns",
)
PROFILES = Population(
    name="customer_profiles",
    features_table="profile_features",
    features_sql="ml/profile_features.sql",
    model_features=(
        "age",
        "income",
        "kids_at_home",
        "teens_at_home",
        "recency_days",
        "tenure_days",
        *_PROFILE_COUNTS,
    ),
    log_features=("income", *_PROFILE_COUNTS),
    fill_median=("income",),
    value_column="total_spend",
    naming_features=(
        "total_spend",
        "income",
        "household",
        "purchases_deals",
        "accepted_campaigns",
        "web_visits_month",
    ),
    marts=("profile_segments", "profile_segment_profiles", "profile_segmentation_metrics"),
)

POPULATIONS = {p.name: p for p in (TRANSACTIONS, PROFILES)}


class FeatureError(BadInputError, ValueError):
    """Features cannot be built or used (unknown population, no rows, missing column)."""


def population(name: str) -> Population:
    try:
        return POPULATIONS[name]
    except KeyError:
        raise FeatureError(f"unknown population {name!r}: expected one of {sorted(POPULATIONS)}") from None


# --- I/O ----------------------------------------------------------------------------------------

DEFAULT_AS_OF_SQL = {
    # the day after the last invoice / enrolment: never the wall clock
    "transactions": "select (max(invoiced_at)::date + 1) from staging.order_lines",
    "customer_profiles": "select (max(enrolled_on) + 1) from staging.customer_profiles",
}


def default_as_of_date(conn: psycopg.Connection, spec: Population) -> date:
    """The day after the newest staged invoice (transactions) or enrolment (profiles)."""
    value = conn.execute(DEFAULT_AS_OF_SQL[spec.name]).fetchone()[0]
    if value is None:
        source = "staging.order_lines" if spec.name == "transactions" else "staging.customer_profiles"
        raise FeatureError(
            f"{source} is empty: nothing to segment (run ingest_ecommerce and validate_and_clean)"
        )
    return value


def write_features(
    conn: psycopg.Connection, spec: Population, run_id: str, as_of_date: date, block: dict | None = None
) -> int:
    """Replace run `run_id`'s rows of ml.<features_table> in the block's customers (every
    customer without one) by the feature SQL as of `as_of_date`. Returns the rows."""
    from include.db.blocks import in_block
    from include.db.connection import execute_file

    table = sql.Identifier("ml", spec.features_table)
    condition, bounds = in_block("customer_id", block)
    conn.execute(
        sql.SQL("delete from {} where run_id = %(run_id)s and {}").format(table, condition),
        {"run_id": run_id, **bounds},
    )
    params = {
        "run_id": run_id,
        "as_of_date": as_of_date,
        "block_first": (block or {}).get("first"),
        "block_next": (block or {}).get("next"),
    }
    return execute_file(conn, spec.features_sql, params).rowcount


def drop_stale_features(conn: psycopg.Connection, spec: Population, run_id: str) -> int:
    """Drop the rows of ml.<features_table> of runs that are neither `run_id` nor still in the
    published history. Returns the rows."""
    return conn.execute(
        sql.SQL(
            "delete from {} where run_id <> %s and run_id not in"
            " (select run_id from published.run_history where mart = %s)"
        ).format(sql.Identifier("ml", spec.features_table)),
        (run_id, spec.marts[0]),
    ).rowcount


def load_features(conn: psycopg.Connection, spec: Population, run_id: str) -> pd.DataFrame:
    """Run `run_id`'s features, ordered by customer_id (the order keeps the models deterministic)."""
    query = sql.SQL("select * from {} where run_id = %s order by customer_id").format(
        sql.Identifier("ml", spec.features_table)
    )
    frame = read_frame(conn, query, (run_id,))
    if frame.empty:
        raise FeatureError(f"ml.{spec.features_table} has no rows for run {run_id}: run build_features first")
    return numeric_columns(frame, spec)


DERIVED_COLUMNS = ("household",)  # added by numeric_columns, not stored in ml.*_features


def numeric_columns(frame: pd.DataFrame, spec: Population) -> pd.DataFrame:
    """Decimal columns from the database as floats; derived columns the naming reads."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object and column not in {
            "run_id",
            "country",
            "education",
            "marital_status",
        }:
            converted = pd.to_numeric(frame[column], errors="coerce")
            if converted.notna().sum() == frame[column].notna().sum():
                frame[column] = converted.astype("float64")
    if spec.name == "customer_profiles" and "household" not in frame:
        frame["household"] = frame["kids_at_home"] + frame["teens_at_home"]
    return frame


# --- preprocessing (pure) -----------------------------------------------------------------------


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """sign(x) * log1p(|x|): log-like for money that can be negative (net of returns)."""
    return np.sign(values) * np.log1p(np.abs(values))


class FeaturePreprocessor:
    """fill -> log -> StandardScaler over `spec.model_features` (see the module docstring).

    Fitted on one run's customers and saved with its models, so new customers are transformed
    exactly like the ones the models were fitted on.
    """

    def __init__(self, spec: Population):
        self.spec = spec
        self.medians_: dict[str, float] = {}
        self.scaler_ = None

    def _filled_and_logged(self, frame: pd.DataFrame) -> np.ndarray:
        spec = self.spec
        missing = [c for c in spec.model_features if c not in frame.columns]
        if missing:
            raise FeatureError(f"features of population {spec.name} lack column(s) {missing}")
        data = frame[list(spec.model_features)].astype("float64").copy()
        for column, source in spec.fill_from.items():
            data[column] = data[column].fillna(frame[source].astype("float64"))
        for column in spec.fill_median:
            data[column] = data[column].fillna(self.medians_[column])
        still_missing = data.columns[data.isna().any()].tolist()
        if still_missing:
            raise FeatureError(f"features of population {spec.name}: missing values left in {still_missing}")
        for column in spec.log_features:
            if (data[column] < 0).any():
                raise FeatureError(f"feature {column} has negative values: log1p needs >= 0")
            data[column] = np.log1p(data[column])
        for column in spec.signed_log_features:
            data[column] = signed_log1p(data[column].to_numpy())
        return data.to_numpy(dtype="float64")

    def fit(self, frame: pd.DataFrame) -> FeaturePreprocessor:
        from sklearn.preprocessing import StandardScaler

        self.medians_ = {c: float(frame[c].astype("float64").median()) for c in self.spec.fill_median}
        self.scaler_ = StandardScaler().fit(self._filled_and_logged(frame))
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        if self.scaler_ is None:
            raise FeatureError("FeaturePreprocessor is not fitted")
        return self.scaler_.transform(self._filled_and_logged(frame))

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)
