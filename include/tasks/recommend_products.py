"""The recommend_products steps. Each returns small metadata for XCom.

Write-audit-publish: every step writes its run's rows into `published.<mart>` (invisible to BI
until the pointers move); `publish_recommendations` audits the four marts and stages them;
publish_marts switches them on with the rest of the pipeline. A failed run leaves the previously
published marts as they were. The evaluation protocol is include/ml/protocol.py.

The per-block steps are mapped (dynamic task mapping): `plan_blocks` cuts the products or the
customers into ranges of their keys (MAPPED_PRODUCTS_PER_TASK, MAPPED_CUSTOMERS_PER_TASK), and
one `build_similarity` / `build_recommendations` task instance per range replaces exactly its
range's rows of the run, so a rerun of one map index redoes its block and nothing else. The
ranges are open at both ends of the key line (the first has no lower bound, the last no upper
one): every product and customer, cold-start customers included, falls in exactly one.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from include import config
from include.db import blocks
from include.db.blocks import block_label, ids_in_block, in_block
from include.db.bulk import copy_dataframe, copy_out, read_frame
from include.db.connection import connect, execute_file
from include.errors import BadInputError
from include.ml import evaluation, pairs, protocol, recommender, signals, similarity
from include.ml.recommender import HybridSpec
from include.publish import marts as publish

log = logging.getLogger(__name__)


class RecommendationError(BadInputError, RuntimeError):
    """The input cannot give recommendations (no sales, ...)."""


@contextmanager
def thread_limit():
    """BLAS/OpenMP threads of the numeric work limited to config.ML_THREADS."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=config.ML_THREADS):
        yield


def load_interactions(conn: psycopg.Connection) -> pd.DataFrame:
    frame = copy_out(
        conn,
        "select customer_id, product_id, invoice_date, invoices, quantity"
        " from ml.customer_product_interactions order by customer_id, product_id, invoice_date",
        {"customer_id": np.int64, "invoice_date": "date", "invoices": np.int64, "quantity": np.int64},
    )
    if frame.empty:
        raise RecommendationError(
            "ml.customer_product_interactions is empty: staging.order_lines has no sale of an identified"
            " customer (run ingest_ecommerce and validate_and_clean first)"
        )
    return frame


def load_products(conn: psycopg.Connection) -> pd.DataFrame:
    """The catalogue, sorted by product_id (the row order of every similarity matrix)."""
    frame = read_frame(
        conn, "select product_id, description, is_sold from staging.products order by product_id"
    )
    if frame.empty:
        raise RecommendationError("staging.products is empty: nothing to recommend")
    return frame


def load_segments(conn: psycopg.Connection) -> pd.DataFrame | None:
    """The segments (customer_id, segment_id) this pipeline builds on (the staged segmentation,
    else the published one), or None (logged)."""
    run_id = publish.pipeline_run(conn, publish.SEGMENT_MARTS["transactions"])
    frame = read_frame(
        conn,
        "select customer_id, segment_id from published.customer_segments where run_id = %(run_id)s",
        {"run_id": run_id},
    )
    if frame.empty:
        log.info("marts.customer_segments has no published run: segment popularity = global popularity")
        return None
    log.info("segments: %d customers in %d segments", len(frame), frame["segment_id"].nunique())
    return frame


def segments_as_of_factory() -> protocol.SegmentsAsOf:
    """A function giving the customers' segments as of a date: ml.customer_features recomputed
    as of that date (sql/ml/customer_features.sql, its rows deleted in the same transaction:
    nothing stays) and scored with the saved models of the segmentation run this pipeline builds
    on (staged, else published). Without one, None (segment popularity = overall popularity,
    logged)."""
    with connect() as conn:
        seg_run = publish.pipeline_run(conn, publish.SEGMENT_MARTS["transactions"])
        found = conn.execute(
            "select run_id, model_dir from ml.segmentation_runs where run_id = %s and population = %s",
            (seg_run, "transactions"),
        ).fetchone()
    if not found:
        log.info("no segmentation run: segment popularity falls back to overall popularity")
        return lambda as_of: None
    seg_run, model_dir = found

    def at(as_of: pd.Timestamp) -> pd.DataFrame | None:
        from include.ml.features import numeric_columns, population
        from include.ml.segment_models import score_new

        started = time.monotonic()
        temp_run = f"recommend_products as of {pd.Timestamp(as_of).date()}"
        with connect() as conn:
            with conn.transaction():
                execute_file(
                    conn,
                    "ml/customer_features.sql",
                    {
                        "run_id": temp_run,
                        "as_of_date": pd.Timestamp(as_of).date(),
                        "block_first": None,  # every customer
                        "block_next": None,
                    },
                )
                frame = read_frame(
                    conn,
                    "select * from ml.customer_features where run_id = %s order by customer_id",
                    (temp_run,),
                )
                conn.execute("delete from ml.customer_features where run_id = %s", (temp_run,))
        if frame.empty:
            return None
        scored = score_new(model_dir, numeric_columns(frame, population("transactions")))
        log.info(
            "segments as of %s: %d customers re-scored with the models of segmentation run %s (%.2f s)",
            pd.Timestamp(as_of).date(),
            len(scored),
            seg_run,
            time.monotonic() - started,
        )
        return scored[["customer_id", "segment_id"]]

    return at


# --- blocks of the mapped steps ---------------------------------------------------------------

# The keys each mapped step splits (a constant query each: no input reaches the SQL text).
BLOCK_KEYS = {
    "products": ("product_id", sql.SQL("select product_id as key from staging.products")),
    "customers": (
        "customer_id",
        sql.SQL(
            "select customer_id as key from staging.customers"
            " union select customer_id from ml.customer_product_interactions"
        ),
    ),
}


def plan_blocks(keys: str, per_task: int | None = None) -> list[dict]:
    """The blocks of a mapped step (small: key bounds only): `products` (staging.products) for
    build_similarity, `customers` (staging.customers and every customer with purchases) for
    build_recommendations; `per_task` keys per block (default: MAPPED_<KEYS>_PER_TASK)."""
    _, query = BLOCK_KEYS[keys]
    default = config.MAPPED_PRODUCTS_PER_TASK if keys == "products" else config.MAPPED_CUSTOMERS_PER_TASK
    with connect() as conn:
        return blocks.plan(conn, keys, query, per_task or default)


# written in mapped blocks: the run's partition is opened by prepare_interactions (before any
# block runs) and indexed by publish_recommendations (after every block)
BLOCK_MARTS = ("product_similarity", "customer_recommendations")


def _clear_block(conn: psycopg.Connection, mart: str, run_id: str, column: str, block: dict | None) -> int:
    """Delete the run's rows of published.<mart> in the block (all of the run's without one)."""
    qualified = f"{config.PUBLISHED_SCHEMA}.{publish.MARTS[mart].partition(run_id)}"
    if conn.execute("select to_regclass(%s) is null", (qualified,)).fetchone()[0]:
        publish.open_run_partition(conn, mart, run_id)  # a block run on its own, outside the DAG
    condition, params = in_block(column, block)
    return conn.execute(
        sql.SQL("delete from {} where run_id = %(run_id)s and {}").format(
            sql.Identifier(config.PUBLISHED_SCHEMA, mart), condition
        ),
        {"run_id": run_id, **params},
    ).rowcount


def _product_positions(conn: psycopg.Connection, block: dict | None, catalogue: int) -> tuple[int, int]:
    """(start, stop): the block's products as positions in staging.products ordered by product_id
    (the order load_products reads; the database's collation decides both)."""
    condition, params = in_block("product_id", block)
    inside, before, total = conn.execute(
        sql.SQL(
            "select count(*) filter (where {}), count(*) filter (where product_id < %(block_first)s),"
            " count(*) from staging.products"
        ).format(condition),
        {"block_first": None, **params},
    ).fetchone()
    if total != catalogue:
        raise RecommendationError(
            f"staging.products changed while the block was read ({catalogue} then {total} products):"
            " rerun the recommend_products run from plan_product_blocks"
        )
    return before, before + inside


def prepare_interactions(run_id: str) -> dict:
    """Rebuild ml.customer_product_interactions from staging (one transaction), and open the run's
    partitions of the marts the mapped blocks fill (BLOCK_MARTS)."""
    started = time.monotonic()
    with connect() as conn:
        publish.drop_unpublished(conn, publish.RECOMMENDATION_MARTS, run_id)
        for mart in BLOCK_MARTS:
            publish.open_run_partition(conn, mart, run_id)
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


def production_fit(
    interactions: pd.DataFrame, products: pd.DataFrame, segments: pd.DataFrame | None, top_k: int
) -> signals.Fit:
    """The fit of the published lists: every sale, the whole catalogue (never-sold products
    included: content similarity reaches them), as of the day after the last sale."""
    as_of = pd.to_datetime(interactions["invoice_date"]).max().normalize() + pd.Timedelta(days=1)
    return protocol.make_fit(
        interactions, products, as_of, segments, catalogue="all", threads=config.ML_THREADS, top_k=top_k
    )


def load_similarity(conn: psycopg.Connection, run_id: str, method: str) -> pd.DataFrame:
    """This run's neighbours of a method (published.product_similarity, by build_similarity)."""
    return read_frame(
        conn,
        "select product_id, similar_product_id, score from published.product_similarity"
        " where run_id = %(run_id)s and method = %(method)s",
        {"run_id": run_id, "method": method},
    )


def similarity_matrix(rows: pd.DataFrame, product_ids: np.ndarray):
    """The neighbours as a products x products matrix in the order of `product_ids`."""
    from scipy import sparse

    from include.ml import ranking

    index = pd.Index(product_ids)
    n = len(index)
    return ranking.canonical(
        sparse.csr_matrix(
            (
                rows["score"].to_numpy(np.float64),
                (index.get_indexer(rows["product_id"]), index.get_indexer(rows["similar_product_id"])),
            ),
            shape=(n, n),
        )
    )


def similarity_frame(top: similarity.TopK, products: pd.DataFrame, method: str) -> pd.DataFrame:
    ids = products["product_id"].to_numpy()
    descriptions = products["description"].to_numpy()
    return pd.DataFrame(
        {
            "product_id": ids[top.item],
            "method": method,
            "rank": top.rank,
            "similar_product_id": ids[top.neighbour],
            "score": top.score,
            "product_description": descriptions[top.item],
            "similar_product_description": descriptions[top.neighbour],
        }
    )


def build_pairs(run_id: str) -> dict:
    """published.product_pairs of the run, from the invoices (one task: the pairs need every
    invoice at once)."""
    started, cpu = time.monotonic(), time.process_time()
    with connect() as conn:
        # every line as it is: product_pairs de-duplicates on integer codes, where a `distinct`
        # here sorts the text of every line (over 20 minutes for 52.7M lines at 100x); read as
        # categoricals, not a Python string per line
        lines = copy_out(
            conn,
            "select invoice_no, product_id from staging.order_lines",
            {"invoice_no": "category", "product_id": "category"},
        )
    with thread_limit():
        frequent = pairs.product_pairs(lines["invoice_no"], lines["product_id"], config.MIN_PAIR_SUPPORT)
    with connect() as conn:
        written = publish.write_run_rows(conn, "product_pairs", run_id, frequent)
    log.info(
        "product_pairs: %d rows in %.2f s (cpu %.2f s)",
        written,
        time.monotonic() - started,
        time.process_time() - cpu,
    )
    return {"product_pairs": written}


def build_similarity(run_id: str, top_k: int = config.TOP_K_SIMILAR, block: dict | None = None) -> dict:
    """Write the content and co_purchase top-k of the block's products (a block of
    plan_blocks("products"); None: every product) into published.product_similarity of the run (not yet visible),
    replacing the block's rows. The features (TF-IDF vocabulary and IDF, the customers of each
    product) are of the whole catalogue and history, so a product's neighbours are the same
    whatever block computes them."""
    started, cpu = time.monotonic(), time.process_time()
    with connect() as conn:
        products = load_products(conn)
        interactions = load_interactions(conn)
        rows = _product_positions(conn, block, len(products))
    with thread_limit():
        content = similarity.content_top_k(products["description"], top_k, rows=rows)
        history = signals.build_history(
            interactions,
            products["product_id"].to_numpy(),
            pd.to_datetime(interactions["invoice_date"]).max() + pd.Timedelta(days=1),
        )
        co_purchase = signals.co_purchase_top_k(history, top_k, product_rows=rows)
    frames = [
        similarity_frame(content, products, "content"),
        similarity_frame(co_purchase, products, "co_purchase"),
    ]
    with connect() as conn:  # one transaction: the block's rows are replaced
        _clear_block(conn, "product_similarity", run_id, "product_id", block)
        similar = copy_dataframe(
            conn,
            config.PUBLISHED_SCHEMA,
            "product_similarity",
            pd.concat(frames, ignore_index=True),
            constants={"run_id": run_id},
        )
    log.info(
        "product_similarity, %s (products %d..%d of %d): %d rows (%d content, %d co_purchase); %.2f s (cpu %.2f s)",
        block_label(block) if block else "all products",
        rows[0],
        rows[1],
        len(products),
        similar,
        len(frames[0]),
        len(frames[1]),
        time.monotonic() - started,
        time.process_time() - cpu,
    )
    return {
        "block": block["block"] if block else 0,
        "blocks": block["blocks"] if block else 1,
        "products": rows[1] - rows[0],
        "product_similarity": similar,
    }


def evaluate(
    run_id: str, test_window_days: int = config.TEST_WINDOW_DAYS, top_k: int = config.TOP_K_SIMILAR
) -> dict:
    """Tune every method on the validation window (inside training), score each once on the test
    window, write published.recommendation_metrics of the run (protocol: include/ml/protocol.py).
    Returns the tuned hybrids (key `weights`) and their NDCG@10. A history too short for the
    windows is not evaluated: the rows say why, the hybrids keep their defaults."""
    from include.quality.validate import run_scoped_dir

    started, cpu = time.monotonic(), time.process_time()
    with connect() as conn:
        products = load_products(conn)
        interactions = load_interactions(conn)
    folder = run_scoped_dir(run_id, "recommendations")
    with thread_limit():
        outcome = protocol.run(
            interactions,
            products,
            segments_as_of_factory(),
            test_days=test_window_days,
            validation_days=config.VALIDATION_WINDOW_DAYS,
            folder=folder,
            threads=config.ML_THREADS,
            top_k=top_k,
        )
    specs = {lt: spec.to_dict() for lt, spec in outcome.specs.items()}
    (folder / "hybrid.json").write_text(json.dumps(specs, indent=2, default=str), encoding="utf-8")
    metrics = outcome.metrics[list(evaluation.MART_COLUMNS)]
    with connect() as conn:
        publish.write_run_rows(conn, "recommendation_metrics", run_id, metrics)
    hybrid = metrics[metrics["method"] == evaluation.HYBRID].set_index("list_type")["ndcg_at_10"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        log.info(
            "evaluation (%s) in %.1f s (cpu %.1f s):\n%s",
            outcome.status,
            time.monotonic() - started,
            time.process_time() - cpu,
            metrics.drop(columns=["evaluation_note"]).to_string(index=False),
        )
    return {
        "weights": specs,
        "evaluation_status": outcome.status,
        "discover_ndcg_at_10": None
        if pd.isna(hybrid.get("discover"))
        else round(float(hybrid["discover"]), 4),
        "buy_again_ndcg_at_10": None
        if pd.isna(hybrid.get("buy_again"))
        else round(float(hybrid["buy_again"]), 4),
    }


def build_recommendations(
    run_id: str,
    weights: dict,
    per_list: int = config.RECOMMENDATIONS_PER_LIST,
    top_k: int = config.TOP_K_SIMILAR,
    block: dict | None = None,
) -> dict:
    """Fit on all the data and write the lists of the block's customers (a block of
    plan_blocks("customers"); None: every customer) into published.customer_recommendations of the run, replacing the
    block's rows: discover and buy_again for every customer with purchases (the tuned hybrids,
    `weights` from `evaluate`), a cold-start discover list for every other customer of
    staging.customers. Every block fits the same model on the same data (the neighbours
    build_similarity published for the run are read back, not recomputed), and a customer's
    list depends on nothing else of its block: the blocks add up to the single-task lists."""
    started, cpu = time.monotonic(), time.process_time()
    specs = {lt: HybridSpec.from_dict(values) for lt, values in weights.items()}
    with connect() as conn:
        products = load_products(conn)
        interactions = load_interactions(conn)
        segments = load_segments(conn)
        customers = read_frame(conn, "select customer_id from staging.customers order by customer_id")
        published = {method: load_similarity(conn, run_id, method) for method in ("content", "co_purchase")}
    with thread_limit():
        fit = production_fit(interactions, products, segments, top_k)
        for method, rows in published.items():  # the neighbours build_similarity published for this run
            if not rows.empty:
                fit.cache[method] = similarity_matrix(rows, fit.history.product_ids)
        recommender.prepare(fit, specs.values())
        newcomers = np.setdiff1d(customers["customer_id"].to_numpy(np.int64), fit.history.customer_ids)
        newcomers = newcomers[ids_in_block(newcomers, block)]
        customer_rows = np.flatnonzero(ids_in_block(fit.history.customer_ids, block))
        segment_of = segments.set_index("customer_id")["segment_id"] if segments is not None else None
        descriptions = products.set_index("product_id")["description"]
        counts = {"discover": 0, "buy_again": 0}
        written = 0
        with connect() as conn:  # one transaction: the block's rows of the run are replaced
            _clear_block(conn, "customer_recommendations", run_id, "customer_id", block)
            for list_type in ("discover", "buy_again"):
                for part in recommender.list_blocks(fit, specs[list_type], per_list, customer_rows):
                    counts[list_type] += part["customer_id"].nunique()
                    written += _write_lists(conn, run_id, part, list_type, False, descriptions)
            cold = recommender.cold_start(fit, specs["discover"], newcomers, segment_of, per_list)
            written += _write_lists(conn, run_id, cold, "discover", True, descriptions)
    log.info(
        "customer_recommendations, %s: %d rows (%d discover lists, %d buy_again, %d cold start) in %.1f s"
        " (cpu %.1f s)",
        block_label(block) if block else "all customers",
        written,
        counts["discover"],
        counts["buy_again"],
        len(newcomers),
        time.monotonic() - started,
        time.process_time() - cpu,
    )
    return {
        "block": block["block"] if block else 0,
        "blocks": block["blocks"] if block else 1,
        "rows": written,
        "customers": int(counts["discover"] + len(newcomers)),
        "cold_start": len(newcomers),
    }


LIST_COLUMNS = [
    "customer_id",
    "list_type",
    "rank",
    "product_id",
    "description",
    "score",
    "reason",
    "is_cold_start",
]


def _write_lists(
    conn: psycopg.Connection,
    run_id: str,
    frame: pd.DataFrame,
    list_type: str,
    cold: bool,
    descriptions: pd.Series,
) -> int:
    """COPY one block of lists into published.customer_recommendations (rows of the run)."""
    if frame.empty:
        return 0
    frame = frame.assign(list_type=list_type, is_cold_start=cold)
    frame["description"] = frame["product_id"].astype(object).map(descriptions)
    return copy_dataframe(
        conn, "published", "customer_recommendations", frame[LIST_COLUMNS], constants={"run_id": run_id}
    )


def check_blocks(results: list[dict], rows_key: str, mart: str, rows_in_table: int) -> int:
    """The mapped tasks' results of one step add up to the run's rows of published.<mart>
    (blocks.check_blocks); returns the blocks."""
    return blocks.check_blocks(results, rows_key, f"published.{mart}", rows_in_table, RecommendationError)


def publish_recommendations(
    run_id: str, similarity_blocks: list[dict] | None = None, recommendation_blocks: list[dict] | None = None
) -> dict:
    """Check that the mapped blocks add up to the run's rows (when given), audit the four marts of
    the run (rows present, keys unique, every customer listed, both hybrids scored) and stage
    them: publish_marts switches them on together with the rest of the pipeline."""
    with connect() as conn:
        for mart in BLOCK_MARTS:  # every block is in: the indexes, in bulk
            publish.index_run(conn, mart, run_id)
        for results, rows_key, mart in (
            (similarity_blocks, "product_similarity", "product_similarity"),
            (recommendation_blocks, "rows", "customer_recommendations"),
        ):
            if results is not None:
                rows = conn.execute(
                    sql.SQL("select count(*) from {} where run_id = %s").format(
                        sql.Identifier(config.PUBLISHED_SCHEMA, mart)
                    ),
                    (run_id,),
                ).fetchone()[0]
                log.info(
                    "published.%s: %d rows from %d block(s)",
                    mart,
                    rows,
                    check_blocks(results, rows_key, mart, rows),
                )
        load_id = conn.execute("select max(load_id) from staging.order_lines").fetchone()[0]
        return publish.stage(conn, publish.RECOMMENDATION_MARTS, run_id, "recommend_products", load_id)
