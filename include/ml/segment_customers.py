"""The tasks of the segment_customers DAG: build features, fit segments, publish them.

1. `build_features`: `ml.customer_features` (or `ml.profile_features`) of the run, as of an
   explicit date (default: the day after the last invoice / enrolment).
2. `fit_segments`: preprocessing, K-means and Ward sweeps, the choice of k, names, PCA, DBSCAN;
   models (preprocessor with its StandardScaler, PCA, K-means, segment centroids) saved with
   joblib under `.local/runs/<run_id>/segmentation/<population>/` beside a `manifest.json` of
   parameters and library versions; plots (PNG) in the same folder; the run's rows written to
   `published.*` (not visible to BI yet) and its summary to `ml.segmentation_runs`.
3. `publish_segments`: checks the run's rows (not empty, unique keys, one row per customer of
   the features, every segment profiled) and points the three marts at the run in one
   transaction. A failure before this leaves the previous segments published.

`score_new` loads a run's saved models and assigns new customers to its segments.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from include import config
from include.ml.features import FeatureError, FeaturePreprocessor, Population, population

log = logging.getLogger(__name__)

TOP_PRODUCTS = 5
TOP_COUNTRIES = 3
POPULATION_BY_LAYOUT = {
    "online_retail": "transactions",
    "online_retail_ii": "transactions",
    "customer_personality": "customer_profiles",
}
# Columns of published.<customer mart> after the model outputs, per population.
CUSTOMER_COLUMNS = {
    "transactions": [
        "as_of_date",
        "country",
        "recency_days",
        "frequency",
        "monetary",
        "gross_revenue",
        "returns_amount",
        "tenure_days",
        "avg_basket_value",
        "distinct_products",
        "return_rate",
        "avg_days_between_orders",
    ],
    "customer_profiles": [
        "as_of_date",
        "education",
        "marital_status",
        "age",
        "income",
        "kids_at_home",
        "teens_at_home",
        "recency_days",
        "tenure_days",
        "total_spend",
        "spend_wines",
        "spend_fruits",
        "spend_meat",
        "spend_fish",
        "spend_sweets",
        "spend_gold",
        "total_purchases",
        "purchases_deals",
        "purchases_web",
        "purchases_catalog",
        "purchases_store",
        "web_visits_month",
        "accepted_campaigns",
        "has_responded",
    ],
}
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


def resolve_population(param: str | None, triggering_layouts: list[str]) -> str:
    """The Param if given, else the population of the newest triggering staging event's layout,
    else transactions."""
    if param:
        return population(param).name
    for layout in reversed(triggering_layouts):
        if layout in POPULATION_BY_LAYOUT:
            return POPULATION_BY_LAYOUT[layout]
    return "transactions"


# --- 1. features ------------------------------------------------------------------------------


def build_features(run_id: str, population_name: str, as_of_date: str | None = None) -> dict:
    """Writes ml.customer_features / ml.profile_features for the run; returns a small summary."""
    from include.db.connection import connect, ensure_schema
    from include.ml.features import default_as_of_date, write_features

    spec = population(population_name)
    started = time.monotonic()
    with connect() as conn:
        ensure_schema(conn)
        as_of = date.fromisoformat(as_of_date) if as_of_date else default_as_of_date(conn, spec)
        rows = write_features(conn, spec, run_id, as_of)
        if rows == 0:
            raise FeatureError(
                f"ml.{spec.features_table}: no customer with activity before {as_of} in staging:"
                " nothing to segment (as_of_date too early, or staging empty)"
            )
        if spec.name == "transactions":
            left_out = conn.execute(
                "select count(*) from staging.customers c where not exists (select 1 from ml.customer_features f"
                " where f.run_id = %s and f.customer_id = c.customer_id)",
                (run_id,),
            ).fetchone()[0]
            if left_out:
                log.info(
                    "%d customers of staging.customers have no sale before %s (returns only, or later):"
                    " not segmented",
                    left_out,
                    as_of,
                )
    log.info(
        "ml.%s: %d customers as of %s for run %s in %.2f s",
        spec.features_table,
        rows,
        as_of,
        run_id,
        time.monotonic() - started,
    )
    return {"population": spec.name, "as_of_date": as_of.isoformat(), "customers": rows}


# --- 2. fit -----------------------------------------------------------------------------------


def model_dir(run_id: str, population_name: str) -> Path:
    from include.quality.validate import run_scoped_dir

    return run_scoped_dir(run_id, "segmentation", population_name)


def fit_segments(run_id: str, population_name: str, algorithm: str, k_min: int, k_max: int) -> dict:
    """Writes the run's rows of published.<population marts> (not yet visible), ml.segmentation_runs,
    models + manifest and plots under the run folder; returns a small summary."""
    from include.db.connection import connect
    from include.ml import plots
    from include.ml.features import load_features
    from include.ml.segmentation import segment, validate_k_range

    spec = population(population_name)
    started = time.monotonic()
    with connect() as conn:
        frame = load_features(conn, spec, run_id)
    ks = validate_k_range(k_min, k_max, len(frame))
    preprocessor = FeaturePreprocessor(spec).fit(frame)
    x = preprocessor.transform(frame)
    log.info("%d customers x %d features loaded and scaled in %.2f s", *x.shape, time.monotonic() - started)
    seg = segment(
        x,
        frame,
        spec.name,
        spec.value_column,
        spec.naming_features,
        algorithm,
        ks,
        seed=config.SEED,
        minibatch_above=config.MINIBATCH_ABOVE,
        silhouette_sample=config.SILHOUETTE_SAMPLE,
        dbscan_sample=config.DBSCAN_SAMPLE,
        agglomerative_sample=config.AGGLOMERATIVE_SAMPLE,
        threads=config.ML_THREADS,
    )
    as_of = frame["as_of_date"].iloc[0]
    out = model_dir(run_id, spec.name)
    save_models(out, run_id, spec, preprocessor, seg, as_of)
    plot_paths = plots.plot_all(seg, list(spec.model_features), out, spec.name, config.SEED)

    customers = customer_rows(frame, seg, spec)
    metrics = seg.metrics.assign(as_of_date=as_of)[METRIC_COLUMNS]
    metrics = metrics.astype({"k": "int64", "min_samples": "Int64", "fitted_on": "int64"})
    sizes = customers.groupby("segment_id").size()
    with connect() as conn:
        write_run(conn, spec, run_id, customers, metrics, as_of)
        profiles = profile_rows(conn, customers, seg, spec, run_id, as_of)
        from include.publish.marts import write_run_rows

        write_run_rows(conn, spec.marts[1], run_id, profiles)
        record_run(conn, run_id, spec, seg, len(frame), as_of, out, plot_paths)
    summary = {
        "population": spec.name,
        "algorithm": seg.algorithm,
        "chosen_k": seg.choice.k,
        "elbow_k": seg.choice.elbow_k,
        "silhouette": _chosen_silhouette(seg),
        "dbscan_noise_share": round(seg.dbscan.noise_share, 4),
        "dbscan_clusters": seg.dbscan.n_clusters,
        "segments": {f"{s} {seg.segment_names[s]}": int(n) for s, n in sizes.items()},
        "customers": len(frame),
        "model_dir": str(out),
    }
    log.info("segmentation of run %s: %s (%.1f s)", run_id, summary, time.monotonic() - started)
    return summary


def _chosen_silhouette(seg) -> float | None:
    row = seg.metrics[seg.metrics["is_chosen"].astype(bool)]
    value = row["silhouette"].iloc[0] if len(row) else None
    return None if value is None or pd.isna(value) else round(float(value), 4)


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
    for column in CUSTOMER_COLUMNS[spec.name]:
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


def write_run(
    conn, spec: Population, run_id: str, customers: pd.DataFrame, metrics: pd.DataFrame, as_of
) -> None:
    from psycopg import sql

    from include.publish.marts import write_run_rows

    started = time.monotonic()
    for mart in spec.marts:  # rows of earlier runs that never got published (failed checks)
        conn.execute(
            sql.SQL(
                "delete from {} where run_id <> %s and run_id not in"
                " (select run_id from published.run_history where mart = %s)"
            ).format(sql.Identifier("published", mart)),
            (run_id, mart),
        )
    write_run_rows(conn, spec.marts[0], run_id, customers)
    write_run_rows(conn, spec.marts[2], run_id, metrics)
    log.info(
        "published.%s: %d rows, published.%s: %d rows for run %s (not yet active) in %.2f s",
        spec.marts[0],
        len(customers),
        spec.marts[2],
        len(metrics),
        run_id,
        time.monotonic() - started,
    )


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
            _chosen_silhouette(seg),
            [round(float(v), 4) for v in seg.pca_explained],
            seg.dbscan.eps,
            seg.dbscan.min_samples,
            seg.dbscan.n_clusters,
            round(seg.dbscan.noise_share, 4),
            str(out),
            json.dumps(plot_paths),
        ),
    )


# --- models -----------------------------------------------------------------------------------

LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy", "joblib", "threadpoolctl")


def save_models(out: Path, run_id: str, spec: Population, preprocessor, seg, as_of) -> Path:
    """preprocessor.joblib (fill + log + StandardScaler), pca.joblib, kmeans.joblib,
    segments.joblib (centroids, K-means label -> segment id, names) and manifest.json."""
    import joblib

    kmeans_to_segment = {}
    if seg.algorithm == "kmeans":
        kmeans_to_segment = {int(k): int(s) for k, s in zip(seg.kmeans_labels, seg.segment_ids, strict=True)}
    files = {
        "preprocessor": ("preprocessor.joblib", preprocessor),
        "pca": ("pca.joblib", seg.pca_model),
        "kmeans": ("kmeans.joblib", seg.kmeans_model),
        "segments": (
            "segments.joblib",
            {
                "centroids": seg.centroids,
                "segment_names": seg.segment_names,
                "kmeans_to_segment": kmeans_to_segment,
            },
        ),
    }
    for name, obj in files.values():
        joblib.dump(obj, out / name)
    manifest = {
        "run_id": run_id,
        "population": spec.name,
        "as_of_date": str(as_of),
        "algorithm": seg.algorithm,
        "features": list(spec.model_features),
        "log_features": list(spec.log_features),
        "chosen_k": seg.choice.k,
        "elbow_k": seg.choice.elbow_k,
        "best_silhouette_k": seg.choice.best_silhouette_k,
        "k_rule": seg.choice.rule,
        "kmeans_k": seg.kmeans_choice.k,
        "segment_names": {str(k): v for k, v in seg.segment_names.items()},
        "pca_explained_variance": [float(v) for v in seg.pca_explained],
        "dbscan": {
            "eps": seg.dbscan.eps,
            "min_samples": seg.dbscan.min_samples,
            "clusters": seg.dbscan.n_clusters,
            "noise_share": seg.dbscan.noise_share,
        },
        "settings": {
            "SEED": config.SEED,
            "MINIBATCH_ABOVE": config.MINIBATCH_ABOVE,
            "SILHOUETTE_SAMPLE": config.SILHOUETTE_SAMPLE,
            "DBSCAN_SAMPLE": config.DBSCAN_SAMPLE,
            "AGGLOMERATIVE_SAMPLE": config.AGGLOMERATIVE_SAMPLE,
        },
        "kmeans_class": type(seg.kmeans_model).__name__,
        "files": {key: name for key, (name, _) in files.items()},
        "versions": {"python": platform.python_version(), **{lib: version(lib) for lib in LIBRARIES}},
        "seconds": {k: round(v, 3) for k, v in seg.seconds.items()},
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    log.info("models and manifest: %s", path)
    return path


def score_new(model_folder: str | Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Assign customers (rows with the population's feature columns) to the segments of a saved
    run: customer_id, segment_id, segment_name, kmeans_cluster, pca_x, pca_y."""
    import joblib

    from include.ml.features import numeric_columns
    from include.ml.segmentation import nearest_centroid_labels

    folder = Path(model_folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    spec = population(manifest["population"])
    preprocessor = joblib.load(folder / manifest["files"]["preprocessor"])
    kmeans = joblib.load(folder / manifest["files"]["kmeans"])
    pca = joblib.load(folder / manifest["files"]["pca"])
    segments = joblib.load(folder / manifest["files"]["segments"])
    x = preprocessor.transform(numeric_columns(frame, spec))
    kmeans_labels = kmeans.predict(x)
    if segments["kmeans_to_segment"]:
        segment_ids = np.array([segments["kmeans_to_segment"][int(k)] for k in kmeans_labels])
    else:
        segment_ids = nearest_centroid_labels(x, segments["centroids"]) + 1
    coords = pca.transform(x)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "segment_id": segment_ids,
            "segment_name": [segments["segment_names"][int(s)] for s in segment_ids],
            "kmeans_cluster": kmeans_labels,
            "pca_x": coords[:, 0],
            "pca_y": coords[:, 1],
        }
    )


# --- 3. publish -------------------------------------------------------------------------------


def _run_count(conn, query: str, table: tuple[str, str], run_id: str) -> int:
    """Run `query` (a literal with {} for the table and %s for the run id); its single value."""
    from psycopg import sql

    return conn.execute(sql.SQL(query).format(sql.Identifier(*table)), (run_id,)).fetchone()[0]


def publish_segments(run_id: str, population_name: str) -> dict:
    """Checks the run's rows of the population's three marts, then points the marts at the run
    (one transaction). Raises PublishCheckError and publishes nothing when a check fails."""

    from include.db.connection import connect
    from include.publish import marts as publish

    spec = population(population_name)
    customer_mart, profile_mart, metrics_mart = spec.marts
    with connect() as conn:
        counts = {mart: publish.check_not_empty(conn, mart, run_id) for mart in spec.marts}
        publish.check_unique(conn, customer_mart, run_id, ["customer_id"])
        publish.check_unique(conn, profile_mart, run_id, ["segment_id"])
        publish.check_unique(conn, metrics_mart, run_id, ["algorithm", "k"])
        featured = _run_count(
            conn, "select count(*) from {} where run_id = %s", ("ml", spec.features_table), run_id
        )
        if featured != counts[customer_mart]:
            raise publish.PublishCheckError(
                f"marts.{customer_mart}: {counts[customer_mart]} rows for run {run_id}, but"
                f" ml.{spec.features_table} has {featured} customers: one row per customer expected"
            )
        segments = _run_count(
            conn,
            "select count(distinct segment_id) from {} where run_id = %s",
            ("published", customer_mart),
            run_id,
        )
        if segments != counts[profile_mart]:
            raise publish.PublishCheckError(
                f"marts.{profile_mart}: {counts[profile_mart]} segment rows for run {run_id}, but"
                f" the customers fall into {segments} segments"
            )
        chosen = _run_count(
            conn,
            "select count(*) from {} where run_id = %s and is_chosen",
            ("published", metrics_mart),
            run_id,
        )
        if chosen != 1:
            raise publish.PublishCheckError(
                f"marts.{metrics_mart}: {chosen} rows marked is_chosen for run {run_id}"
            )
        publish.activate(conn, run_id, spec.marts)
    log.info("published run %s of population %s: %s", run_id, spec.name, counts)
    return {"population": spec.name, "run_id": run_id, **counts}
