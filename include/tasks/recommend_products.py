"""The recommend_products steps. Each returns small metadata for XCom.

Write-audit-publish: every step writes its run's rows into `published.<mart>` (invisible to BI
until the pointers move); `publish` checks all four marts and moves their pointers together in
one transaction. A failed run leaves the previously published marts as they were.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import psycopg

from include import config
from include.db.connection import connect, execute_file, read_sql
from include.errors import BadInputError
from include.ml import evaluation, recommend, similarity
from include.publish import marts as publish

log = logging.getLogger(__name__)


class RecommendationError(BadInputError, RuntimeError):
    """The input cannot give recommendations (no sales, too short a history, ...)."""


def _frame(conn: psycopg.Connection, query: str, params: dict | None = None) -> pd.DataFrame:
    cur = conn.execute(query, params)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def load_interactions(conn: psycopg.Connection) -> pd.DataFrame:
    frame = _frame(
        conn,
        "select customer_id, product_id, invoice_date, invoices, quantity"
        " from ml.customer_product_interactions order by customer_id, product_id, invoice_date",
    )
    if frame.empty:
        raise RecommendationError(
            "ml.customer_product_interactions is empty: staging.order_lines has no sale of an identified"
            " customer (run ingest_ecommerce and validate_and_clean first)"
        )
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    frame["customer_id"] = frame["customer_id"].astype(np.int64)
    return frame


def load_products(conn: psycopg.Connection) -> pd.DataFrame:
    """The catalogue, sorted by product_id (the row order of every similarity matrix)."""
    frame = _frame(conn, "select product_id, description, is_sold from staging.products order by product_id")
    if frame.empty:
        raise RecommendationError("staging.products is empty: nothing to recommend")
    return frame


def load_segments(conn: psycopg.Connection) -> pd.DataFrame | None:
    """The segments (customer_id, segment_id) this pipeline builds on (the staged segmentation,
    else the published one), or None (logged)."""
    run_id = publish.pipeline_run(conn, publish.SEGMENT_MARTS["transactions"])
    frame = _frame(
        conn,
        "select customer_id, segment_id from published.customer_segments where run_id = %(run_id)s",
        {"run_id": run_id},
    )
    if frame.empty:
        log.info("marts.customer_segments has no published run: segment popularity = global popularity")
        return None
    log.info("segments: %d customers in %d segments", len(frame), frame["segment_id"].nunique())
    return frame


def prepare_interactions(run_id: str) -> dict:
    """Rebuild ml.customer_product_interactions from staging (one transaction)."""
    started = time.monotonic()
    with connect() as conn:
        publish.drop_unpublished(conn, publish.RECOMMENDATION_MARTS, run_id)
        execute_file(conn, "ml/customer_product_interactions.sql")
        rows, customers, products, first, last = conn.execute(
            "select count(*), count(distinct customer_id), count(distinct product_id), min(invoice_date),"
            " max(invoice_date) from ml.customer_product_interactions"
        ).fetchone()
        if rows == 0:  # raised inside the transaction: the previous interactions stay
            raise RecommendationError(
                "ml.customer_product_interactions: no sale of an identified customer in staging.order_lines"
            )
    log.info(
        "ml.customer_product_interactions: %d rows, %d customers, %d products, %s .. %s in %.2f s",
        rows,
        customers,
        products,
        first,
        last,
        time.monotonic() - started,
    )
    return {"interactions": rows, "customers": customers, "products": products, "last_date": str(last)}


def content_neighbours(products: pd.DataFrame, top_k: int) -> similarity.TopK:
    return similarity.blocked_top_k_cosine(similarity.description_features(products["description"]), k=top_k)


def co_purchase_neighbours(interactions: pd.DataFrame, products: pd.DataFrame, top_k: int) -> similarity.TopK:
    customers = np.sort(interactions["customer_id"].unique())
    rows = pd.Index(customers).get_indexer(interactions["customer_id"])
    cols = pd.Index(products["product_id"]).get_indexer(interactions["product_id"])
    features = similarity.purchase_features(
        rows, cols, interactions["invoices"].to_numpy(), len(customers), len(products)
    )
    return similarity.blocked_top_k_cosine(features, k=top_k)


def similarity_frame(neighbours: similarity.TopK, products: pd.DataFrame, method: str) -> pd.DataFrame:
    ids = products["product_id"].to_numpy()
    descriptions = products["description"].to_numpy()
    return pd.DataFrame(
        {
            "product_id": ids[neighbours.item],
            "method": method,
            "rank": neighbours.rank,
            "similar_product_id": ids[neighbours.neighbour],
            "score": neighbours.score,
            "product_description": descriptions[neighbours.item],
            "similar_product_description": descriptions[neighbours.neighbour],
        }
    )


def build_similarity(run_id: str, top_k: int = config.TOP_K_SIMILAR) -> dict:
    """Write published.product_similarity (content and co_purchase top-k) and
    published.product_pairs of the run (not yet visible)."""
    started = time.monotonic()
    with connect() as conn:
        products = load_products(conn)
        interactions = load_interactions(conn)
        content = similarity_frame(content_neighbours(products, top_k), products, "content")
        co_purchase = similarity_frame(
            co_purchase_neighbours(interactions, products, top_k), products, "co_purchase"
        )
        similar = publish.write_run_rows(
            conn, "product_similarity", run_id, pd.concat([content, co_purchase], ignore_index=True)
        )
        pairs = publish.write_run_rows_sql(
            conn,
            "product_pairs",
            run_id,
            read_sql("ml/product_pairs.sql"),
            {"min_support": config.MIN_PAIR_SUPPORT},
        )
    log.info(
        "product_similarity: %d rows (%d content, %d co_purchase); product_pairs: %d rows; %.2f s",
        similar,
        len(content),
        len(co_purchase),
        pairs,
        time.monotonic() - started,
    )
    return {"product_similarity": similar, "product_pairs": pairs}


def evaluate(
    run_id: str, test_window_days: int = config.TEST_WINDOW_DAYS, top_k: int = config.TOP_K_SIMILAR
) -> dict:
    """Tune the blend on the validation window (inside training), score every method on the
    test window, write published.recommendation_metrics of the run. Returns the tuned weights
    and the hybrids' NDCG@10."""
    started = time.monotonic()
    with connect() as conn:
        products = load_products(conn)
        interactions = load_interactions(conn)
        segments = load_segments(conn)
    product_ids = products["product_id"].to_numpy()
    content = content_neighbours(products, top_k)
    split = evaluation.time_split(interactions["invoice_date"], test_window_days)
    train = interactions[interactions["invoice_date"] <= split.train_end]
    validation = evaluation.time_split(train["invoice_date"], config.VALIDATION_WINDOW_DAYS)
    log.info(
        "split: train %s .. %s, test %s .. %s; validation %s .. %s",
        *split.as_dates().values(),
        validation.test_start.date(),
        validation.test_end.date(),
    )
    tuning_model = recommend.fit(train, product_ids, content, validation.test_start, segments, top_k)
    weights, trials = evaluation.tune(train, validation, tuning_model)
    log.info("tuned on %d trials in %.1f s: %s", len(trials), time.monotonic() - started, weights)
    test_model = recommend.fit(interactions, product_ids, content, split.test_start, segments, top_k)
    metrics = evaluation.evaluate_methods(interactions, split, test_model, weights)
    with connect() as conn:
        publish.write_run_rows(conn, "recommendation_metrics", run_id, metrics)
    hybrid = metrics[metrics["method"] == evaluation.HYBRID].set_index("list_type")["ndcg_at_10"]
    log.info("evaluation in %.1f s:\n%s", time.monotonic() - started, metrics.to_string(index=False))
    return {
        "weights": weights.to_dict(),
        "discover_ndcg_at_10": round(float(hybrid.get("discover", 0.0)), 4),
        "buy_again_ndcg_at_10": round(float(hybrid.get("buy_again", 0.0)), 4),
    }


def build_recommendations(
    run_id: str,
    weights: dict,
    per_list: int = config.RECOMMENDATIONS_PER_LIST,
    top_k: int = config.TOP_K_SIMILAR,
) -> dict:
    """Refit on all the data and write published.customer_recommendations of the run: discover
    and buy_again for every customer with purchases, a cold-start discover list for every other
    customer of staging.customers."""
    started = time.monotonic()
    blend = recommend.BlendWeights.from_dict(weights)
    with connect() as conn:
        products = load_products(conn)
        interactions = load_interactions(conn)
        segments = load_segments(conn)
        customers = _frame(conn, "select customer_id from staging.customers order by customer_id")
    product_ids = products["product_id"].to_numpy()
    content = content_neighbours(products, top_k)
    as_of = interactions["invoice_date"].max() + pd.Timedelta(days=1)
    model = recommend.fit(interactions, product_ids, content, as_of, segments, top_k)
    discover = recommend.discover(model, blend, n=per_list).assign(list_type="discover", is_cold_start=False)
    again = recommend.buy_again(model, blend, n=per_list).assign(list_type="buy_again", is_cold_start=False)
    newcomers = np.setdiff1d(customers["customer_id"].to_numpy(np.int64), model.customer_ids)
    segment_of = segments.set_index("customer_id")["segment_id"] if segments is not None else None
    cold = recommend.cold_start(model, newcomers, segment_of, n=per_list).assign(
        list_type="discover", is_cold_start=True
    )
    lists = pd.concat([discover, again, cold], ignore_index=True)
    lists["description"] = lists["product_id"].map(products.set_index("product_id")["description"])
    columns = [
        "customer_id",
        "list_type",
        "rank",
        "product_id",
        "description",
        "score",
        "reason",
        "is_cold_start",
    ]
    with connect() as conn:
        written = publish.write_run_rows(conn, "customer_recommendations", run_id, lists[columns])
    log.info(
        "customer_recommendations: %d rows (%d discover lists, %d buy_again, %d cold start) in %.1f s",
        written,
        discover["customer_id"].nunique(),
        again["customer_id"].nunique(),
        len(newcomers),
        time.monotonic() - started,
    )
    return {"rows": written, "customers": int(lists["customer_id"].nunique()), "cold_start": len(newcomers)}


def publish_recommendations(run_id: str) -> dict:
    """Audit the four marts of the run (rows present, keys unique, both hybrids scored) and stage
    them: publish_marts switches them on together with the rest of the pipeline."""
    with connect() as conn:
        load_id = conn.execute("select max(load_id) from staging.order_lines").fetchone()[0]
        return publish.stage(conn, publish.RECOMMENDATION_MARTS, run_id, "recommend_products", load_id)
