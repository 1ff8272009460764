"""The segment_customers steps: build features, fit segments, publish them. Each returns small
metadata for XCom.

1. `plan_features`, `build_features`: `ml.customer_features` (or `ml.profile_features`) of the
   run, as of an explicit date (default: the day after the last invoice / enrolment), written by
   mapped tasks over blocks of customers (include/db/blocks.py) that meet in the table.
2. `fit_segments`: preprocessing, K-means and Ward sweeps, the choice of k, names, PCA, DBSCAN
   (include.ml.segmentation); models and manifest (include.ml.segment_models) and plots
   (include.ml.plots) under `.local/runs/<run_id>/segmentation/<population>/`; the run's rows
   (include.ml.segment_rows) written to `published.*` (not visible to BI yet) and its summary to
   `ml.segmentation_runs`.
3. `publish_segments`: audits the run's rows with the checks the marts declare
   (include.publish.marts: not empty, unique keys, one row per customer of the features, every
   segment profiled, one chosen k) and points the three marts at the run in one transaction. A
   failure before this leaves the previous segments published.
"""

from __future__ import annotations

import logging
import time
from datetime import date

from include import config
from include.ml.features import FeatureError, FeaturePreprocessor, population

log = logging.getLogger(__name__)

POPULATION_BY_LAYOUT = {
    "online_retail": "transactions",
    "online_retail_ii": "transactions",
    "customer_personality": "customer_profiles",
}


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


# the keys the feature blocks are cut at: every customer the population's features can hold
FEATURE_KEYS = {
    "transactions": "select customer_id as key from staging.customers",
    "customer_profiles": "select customer_id as key from staging.customer_profiles",
}


def plan_features(
    run_id: str, population_name: str, as_of_date: str | None = None, per_task: int | None = None
) -> list[dict]:
    """The as-of date (default: the day after the last invoice / enrolment) and the customer
    blocks of the mapped build_features (MAPPED_CUSTOMERS_PER_TASK customers each: one block
    on Online Retail); drops the features of runs no longer kept. Each block carries the
    population and the date."""
    from psycopg import sql

    from include.db import blocks
    from include.db.connection import connect
    from include.ml.features import default_as_of_date, drop_stale_features

    spec = population(population_name)
    with connect() as conn:
        as_of = date.fromisoformat(as_of_date) if as_of_date else default_as_of_date(conn, spec)
        drop_stale_features(conn, spec, run_id)
        planned = blocks.plan(
            conn,
            f"{spec.name} customers",
            sql.SQL(FEATURE_KEYS[spec.name]),
            per_task or config.MAPPED_CUSTOMERS_PER_TASK,
        )
    return [{**block, "population": spec.name, "as_of_date": as_of.isoformat()} for block in planned]


def build_features(run_id: str, block: dict) -> dict:
    """Writes the block's rows of ml.customer_features / ml.profile_features for the run (a block
    of plan_features, which names the population and the as-of date); returns a small summary."""
    from include.db.blocks import block_label
    from include.db.connection import connect
    from include.ml.features import write_features

    spec = population(block["population"])
    started = time.monotonic()
    as_of = date.fromisoformat(block["as_of_date"])
    with connect() as conn:
        rows = write_features(conn, spec, run_id, as_of, block)
    log.info(
        "ml.%s, %s: %d customers as of %s for run %s in %.2f s",
        spec.features_table,
        block_label(block),
        rows,
        as_of,
        run_id,
        time.monotonic() - started,
    )
    return {
        "block": block["block"],
        "blocks": block["blocks"],
        "population": spec.name,
        "as_of_date": as_of.isoformat(),
        "customers": rows,
    }


def check_features(run_id: str, feature_blocks: list[dict]) -> dict:
    """The mapped feature blocks add up to the run's rows, and some customer has features;
    returns {population, as_of_date, customers}."""
    from psycopg import sql

    from include.db import blocks
    from include.db.connection import connect

    results = list(feature_blocks)
    spec = population(results[0]["population"])
    as_of = results[0]["as_of_date"]
    with connect() as conn:
        rows = conn.execute(
            sql.SQL("select count(*) from {} where run_id = %s").format(
                sql.Identifier("ml", spec.features_table)
            ),
            (run_id,),
        ).fetchone()[0]
        blocks.check_blocks(results, "customers", f"ml.{spec.features_table}", rows, FeatureError)
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
    log.info("ml.%s: %d customers as of %s for run %s", spec.features_table, rows, as_of, run_id)
    return {"population": spec.name, "as_of_date": as_of, "customers": rows}


# --- 2. fit -----------------------------------------------------------------------------------


def fit_segments(
    run_id: str,
    population_name: str | None,
    algorithm: str,
    k_min: int,
    k_max: int,
    feature_blocks: list[dict] | None = None,
) -> dict:
    """Writes the run's rows of published.<population marts> (not yet visible), ml.segmentation_runs,
    models + manifest and plots under the run folder; returns a small summary. Given the mapped
    build_features results, checks they add up first (check_features; they name the population)."""
    if feature_blocks is not None:
        population_name = check_features(run_id, feature_blocks)["population"]
    from include.db.connection import connect
    from include.ml import plots, segment_rows
    from include.ml.features import load_features
    from include.ml.segment_models import model_dir, save_models
    from include.ml.segmentation import segment, validate_k_range
    from include.publish import marts as publish

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

    customers = segment_rows.customer_rows(frame, seg, spec)
    metrics = segment_rows.metric_rows(seg, as_of)
    customer_mart, profile_mart, metrics_mart = spec.marts
    with connect() as conn:
        written = time.monotonic()
        publish.drop_unpublished(conn, publish.SEGMENT_MARTS[spec.name], run_id)
        publish.write_run_rows(conn, customer_mart, run_id, customers)
        publish.write_run_rows(conn, metrics_mart, run_id, metrics)
        profiles = segment_rows.profile_rows(conn, customers, seg, spec, run_id, as_of)
        publish.write_run_rows(conn, profile_mart, run_id, profiles)
        segment_rows.record_run(conn, run_id, spec, seg, len(frame), as_of, out, plot_paths)
    log.info(
        "published.%s: %d rows, %s: %d, %s: %d for run %s (not yet active) in %.2f s",
        customer_mart,
        len(customers),
        profile_mart,
        len(profiles),
        metrics_mart,
        len(metrics),
        run_id,
        time.monotonic() - written,
    )
    sizes = customers.groupby("segment_id").size()
    summary = {
        "population": spec.name,
        "algorithm": seg.algorithm,
        "chosen_k": seg.choice.k,
        "elbow_k": seg.choice.elbow_k,
        "silhouette": segment_rows.chosen_silhouette(seg),
        "dbscan_noise_share": round(seg.dbscan.noise_share, 4),
        "dbscan_clusters": seg.dbscan.n_clusters,
        "segments": {f"{s} {seg.segment_names[s]}": int(n) for s, n in sizes.items()},
        "customers": len(frame),
        "model_dir": str(out),
    }
    log.info("segmentation of run %s: %s (%.1f s)", run_id, summary, time.monotonic() - started)
    return summary


# --- 3. publish -------------------------------------------------------------------------------


def publish_segments(run_id: str, population_name: str) -> dict:
    """Audits the run's rows of the population's three marts (raises PublishCheckError and
    publishes nothing when a check fails). Transactions: stages them for publish_marts, which
    switches the whole pipeline's marts together. Profiles (whose pipeline ends here): points
    the three marts at the run in one transaction."""
    from include.db.connection import connect
    from include.publish import marts as publish

    spec = population(population_name)
    marts = publish.SEGMENT_MARTS[spec.name]
    with connect() as conn:
        if spec.name == "transactions":
            load_id = conn.execute("select max(load_id) from staging.order_lines").fetchone()[0]
            counts = publish.stage(conn, marts, run_id, "segment_customers", load_id)
        else:
            counts = publish.publish(conn, marts, run_id)
    log.info("run %s of population %s audited: %s", run_id, spec.name, counts)
    return {"population": spec.name, "run_id": run_id, "staged": spec.name == "transactions", **counts}
