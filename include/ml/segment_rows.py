"""The rows segment_customers writes: one per customer (the customer mart), one per segment
(the profile mart), one per algorithm and k (the metrics mart), and the run summary in
ml.segmentation_runs. Pure shaping of a `Segmentation`, plus the two queries the profiles and
the summary need."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from include.ml.features import DERIVED_COLUMNS, Population

TOP_PRODUCTS = 5

TOP_COUNTRIES = 3

METRIC_COLUMNS = [
    "algorithm",
    "k",
    "inertia",
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "is_elbow",
    "is_best_silhouette",
    "is_chosen",
    "noise_share",
    "eps",
    "min_samples",
    "fitted_on",
    "as_of_date",
]


def chosen_silhouette(seg) -> float | None:
    row = seg.metrics[seg.metrics["is_chosen"].astype(bool)]
    value = row["silhouette"].iloc[0] if len(row) else None
    return None if value is None or pd.isna(value) else round(float(value), 4)


def metric_rows(seg, as_of) -> pd.DataFrame:
    """One row per algorithm and k of the sweep (the metrics mart's columns)."""
    metrics = seg.metrics.assign(as_of_date=as_of)[METRIC_COLUMNS]
    return metrics.astype({"k": "int64", "min_samples": "Int64", "fitted_on": "int64"})


def customer_rows(frame: pd.DataFrame, seg, spec: Population) -> pd.DataFrame:
    """One row per customer: id, model outputs, the features (the customer mart's columns)."""
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("int64").to_numpy(),
            "segment_id": seg.segment_ids,
            "segment_name": [seg.segment_names[s] for s in seg.segment_ids],
            "kmeans_cluster": seg.kmeans_labels,
            "dbscan_cluster": seg.dbscan.labels,
            "is_outlier": seg.dbscan.labels == -1,
            "pca_x": seg.pca_coords[:, 0],
            "pca_y": seg.pca_coords[:, 1],
        }
    )
    for column in frame.columns:  # every column of the features table (published.<mart> is LIKE it)
        if column not in ("run_id", "customer_id", *DERIVED_COLUMNS):
            out[column] = frame[column].to_numpy()
    return out


def _share_text(values: pd.Series, top: int) -> str:
    """'United Kingdom (89%), Germany (3%), ...': the `top` most common values with their share
    (ties: alphabetical)."""
    shares = values.value_counts(normalize=True)
    ordered = sorted(shares.items(), key=lambda item: (-item[1], str(item[0])))[:top]
    return ", ".join(f"{name} ({share:.0%})" for name, share in ordered)


def profile_rows(conn, customers: pd.DataFrame, seg, spec: Population, run_id: str, as_of) -> pd.DataFrame:
    """One row per segment: size, shares, mean and median features, top countries / products
    (transactions) or top education / marital status (profiles)."""
    from include.db.connection import execute_file

    groups = customers.groupby("segment_id")
    total = len(customers)
    value = spec.value_column
    total_value = float(customers[value].astype("float64").sum())
    base = pd.DataFrame(
        {
            "segment_id": list(groups.groups),
            "segment_name": [seg.segment_names[s] for s in groups.groups],
            "algorithm": seg.algorithm,
            "customers": groups.size().to_numpy(),
        }
    )
    base["customer_share"] = base["customers"] / total
    sums = groups[value].sum().astype("float64").to_numpy()
    money, share = ("revenue", "revenue_share") if spec.name == "transactions" else ("spend", "spend_share")
    base[money] = sums
    base[share] = sums / total_value if total_value else 0.0
    base["outliers"] = groups["is_outlier"].sum().astype("int64").to_numpy()

    def stat(column: str, how: str) -> np.ndarray:
        return groups[column].agg(how).astype("float64").to_numpy()

    if spec.name == "transactions":
        for column in (
            "recency_days",
            "frequency",
            "monetary",
            "tenure_days",
            "avg_basket_value",
            "distinct_products",
            "return_rate",
            "avg_days_between_orders",
        ):
            base[f"mean_{column}"] = stat(column, "mean")
            base[f"median_{column}"] = stat(column, "median")
        base["top_countries"] = [_share_text(g["country"], TOP_COUNTRIES) for _, g in groups]
        top = dict(
            execute_file(
                conn,
                "ml/segment_top_products.sql",
                {"run_id": run_id, "as_of_date": as_of, "top_n": TOP_PRODUCTS},
            ).fetchall()
        )
        base["top_products"] = [top.get(s, "") for s in base["segment_id"]]
    else:
        for column in ("age", "income", "total_spend", "total_purchases"):
            base[f"mean_{column}"] = stat(column, "mean")
            base[f"median_{column}"] = stat(column, "median")
        for column in (
            "kids_at_home",
            "teens_at_home",
            "purchases_deals",
            "web_visits_month",
            "accepted_campaigns",
            "recency_days",
            "tenure_days",
        ):
            base[f"mean_{column}"] = stat(column, "mean")
        base["response_rate"] = stat("has_responded", "mean")
        base["top_education"] = [_share_text(g["education"], 1) for _, g in groups]
        base["top_marital_status"] = [_share_text(g["marital_status"], 1) for _, g in groups]
    return base


def record_run(
    conn, run_id: str, spec: Population, seg, customers: int, as_of, out: Path, plot_paths: dict
) -> None:
    conn.execute(
        "delete from ml.segmentation_runs where run_id = %s and population = %s", (run_id, spec.name)
    )
    conn.execute(
        "insert into ml.segmentation_runs (run_id, population, as_of_date, algorithm, customers, features,"
        " chosen_k, elbow_k, best_silhouette_k, silhouette, pca_explained_variance, dbscan_eps,"
        " dbscan_min_samples, dbscan_clusters, dbscan_noise_share, model_dir, plots)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            run_id,
            spec.name,
            as_of,
            seg.algorithm,
            customers,
            list(spec.model_features),
            seg.choice.k,
            seg.choice.elbow_k,
            seg.choice.best_silhouette_k,
            chosen_silhouette(seg),
            [round(float(v), 4) for v in seg.pca_explained],
            seg.dbscan.eps,
            seg.dbscan.min_samples,
            seg.dbscan.n_clusters,
            round(seg.dbscan.noise_share, 4),
            str(out),
            json.dumps(plot_paths),
        ),
    )
