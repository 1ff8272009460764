"""recommend_products on the full Online Retail data: the four marts, the quality target, reruns,
cold start, unsold products, and bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from psycopg import sql

from include import config
from tools import runtime

pytestmark = pytest.mark.integration

MARTS = ("product_similarity", "product_pairs", "customer_recommendations", "recommendation_metrics")
COLD_START_CUSTOMER = 99_999  # registered, never bought anything


def _frame(db, query: str | sql.Composable, params=None) -> pd.DataFrame:
    cur = db.execute(query, params)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def _mart(db, mart: str) -> pd.DataFrame:
    columns = [
        r[0]
        for r in db.execute(
            "select column_name from information_schema.columns where table_schema = 'marts'"
            " and table_name = %s and column_name <> 'run_id' order by ordinal_position",
            (mart,),
        )
    ]
    query = sql.SQL("select {} from {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier("marts", mart)
    )
    frame = _frame(db, query)
    return frame.sort_values(columns[:4]).reset_index(drop=True)


@pytest.fixture(scope="module")
def published(warehouse):
    """The full data cleaned and segmented, one registered customer without purchases, and one run."""
    from include.db.connection import connect
    from tests.conftest import ECOMMERCE_ZIP, require

    ecommerce_zip = require(ECOMMERCE_ZIP)  # the fixture of the same name is per test

    assert runtime.run_dag("ingest_ecommerce", {"source": str(ecommerce_zip)}).state == "success"
    assert runtime.run_dag("validate_and_clean", {}).state == "success"
    assert runtime.run_dag("segment_customers", {}).state == "success"  # segment popularity, cold start
    with connect(warehouse) as conn:
        conn.execute(
            "insert into staging.customers (load_id, customer_id, country, first_invoice_at, last_invoice_at)"
            " select load_id, %s, 'United Kingdom', timestamp '2011-12-09', timestamp '2011-12-09'"
            " from staging.customers limit 1",
            (COLD_START_CUSTOMER,),
        )
    run = runtime.run_dag("recommend_products", {})
    assert run.state == "success"
    # BI sees the run once the pipeline's last DAG has switched the whole snapshot on
    assert runtime.run_dag("publish_marts", {"export_hyper": False}).state == "success"
    return run.run_id


def test_the_four_marts_are_published_by_one_run(published, db):
    for mart in MARTS:
        query = sql.SQL("select count(*), min(run_id), max(run_id) from {}").format(
            sql.Identifier("marts", mart)
        )
        runs = db.execute(query).fetchone()
        assert runs[0] > 0, mart
        assert runs[1] == runs[2] == published, mart
    similarity = _frame(
        db, "select product_id, method, count(*) as n from marts.product_similarity group by 1, 2"
    )
    assert set(similarity["method"]) == {"content", "co_purchase"}
    assert similarity["n"].max() == config.TOP_K_SIMILAR
    products = db.execute("select count(*) from staging.products").fetchone()[0]
    assert (similarity["method"] == "content").sum() == products  # every product has content neighbours
    pairs = _frame(
        db, "select support, confidence, lift, invoices, product_invoices from marts.product_pairs"
    )
    assert (pairs["support"] >= config.MIN_PAIR_SUPPORT).all()
    assert ((pairs["confidence"] > 0) & (pairs["confidence"] <= 1)).all()
    assert (pairs["invoices"] <= pairs["product_invoices"]).all()


def test_every_customer_gets_lists_that_respect_their_history(published, db):
    lists = _frame(
        db,
        "select customer_id, list_type, rank, product_id, is_cold_start from marts.customer_recommendations",
    )
    customers = {r[0] for r in db.execute("select customer_id from staging.customers")}
    assert set(lists.loc[lists["list_type"] == "discover", "customer_id"]) == customers
    assert lists.groupby(["customer_id", "list_type"]).size().max() == config.RECOMMENDATIONS_PER_LIST
    bought = _frame(
        db,
        "select distinct customer_id, product_id, true as bought from staging.order_lines"
        " where customer_id is not null",
    )
    merged = lists.merge(bought, on=["customer_id", "product_id"], how="left")
    merged["bought"] = merged["bought"].fillna(False).astype(bool)
    assert not merged.loc[merged["list_type"] == "discover", "bought"].any(), (
        "discover shows only new products"
    )
    assert merged.loc[merged["list_type"] == "buy_again", "bought"].all(), (
        "buy_again shows only bought products"
    )


def test_a_customer_without_purchases_gets_a_popularity_list(published, db):
    rows = _frame(
        db,
        "select list_type, rank, product_id, reason, is_cold_start from marts.customer_recommendations"
        " where customer_id = %s order by rank",
        (COLD_START_CUSTOMER,),
    )
    assert len(rows) == config.RECOMMENDATIONS_PER_LIST
    assert set(rows["list_type"]) == {"discover"} and rows["is_cold_start"].all()
    assert rows["reason"].str.startswith("new customer").all()


def test_a_product_without_sales_is_reachable_through_content(published, db):
    reachable = db.execute(
        "select count(distinct p.product_id) from staging.products p"
        " join marts.product_similarity s on s.similar_product_id = p.product_id and s.method = 'content'"
        " where not p.is_sold"
    ).fetchone()[0]
    unsold = db.execute("select count(*) from staging.products where not is_sold").fetchone()[0]
    assert unsold > 0 and reachable > 0


# the methods the issue names, spelled out here so that a method dropped from the protocol fails
DISCOVER_METHODS = set(
    "hybrid ease als rp3beta user_knn item_knn recent_popularity segment_popularity"
    " global_popularity content_only co_purchase_only".split()
)


def test_each_hybrid_beats_every_baseline_of_its_list_type(published, db):
    metrics = _frame(db, "select * from marts.recommendation_metrics")
    assert metrics["method"].str.startswith("hybrid").sum() == 2
    assert set(metrics.loc[metrics["list_type"] == "discover", "method"]) == DISCOVER_METHODS
    assert set(metrics.loc[metrics["list_type"] == "buy_again", "method"]) == {
        "hybrid",
        "own_most_bought",
        "ease",
    }
    assert (metrics["evaluation_status"] == "evaluated").all()
    assert (metrics["users_evaluated"] > 1000).all()
    assert (
        (metrics["test_end_date"] - metrics["test_start_date"])
        .map(lambda d: d.days)
        .eq(config.TEST_WINDOW_DAYS - 1)
        .all()
    )
    # the quality goals of issue 11, read from the run's own marts: discover >= 1.15 x the best
    # other method (EASE and ALS included) with every bootstrap interval above 0, buy_again >= 1.10 x
    for list_type, margin in (("discover", 1.15), ("buy_again", 1.10)):
        rows = metrics[metrics["list_type"] == list_type].set_index("method")
        best_other = rows["ndcg_at_10"].drop("hybrid").max()
        assert rows.loc["hybrid", "ndcg_at_10"] >= best_other * margin, (
            list_type,
            rows["ndcg_at_10"].to_dict(),
        )
        others = rows.drop("hybrid")
        assert (others["ndcg_diff_vs_hybrid_low"] > 0).all(), others["ndcg_diff_vs_hybrid_low"].to_dict()
        assert (others["ndcg_diff_vs_hybrid_low"] <= others["ndcg_diff_vs_hybrid_high"]).all()
        assert rows["f1_at_10"].between(0, 1).all() and rows["evaluation_note"].str.contains("trials").all()
    # the segment baseline used the segments (as of the split; a fallback would equal global popularity)
    discover = metrics[metrics["list_type"] == "discover"].set_index("method")["ndcg_at_10"]
    assert discover["segment_popularity"] != discover["global_popularity"]


def test_the_run_keeps_its_studies(published):
    from include.quality.validate import run_scoped_dir

    folder = run_scoped_dir(published, "recommendations")
    studies = {p.name for p in folder.glob("*.pkl")}
    assert {"discover_hybrid.pkl", "buy_again_hybrid.pkl", "discover_ease.pkl", "discover_als.pkl"} <= studies
    assert (folder / "hybrid.json").exists()


def test_a_rerun_publishes_identical_marts(published, db):
    before = {mart: _mart(db, mart) for mart in MARTS}
    run = runtime.run_dag("recommend_products", {})
    assert run.state == "success" and run.run_id != published
    assert runtime.run_dag("publish_marts", {"export_hyper": False}).state == "success"
    for mart in MARTS:
        pd.testing.assert_frame_equal(_mart(db, mart), before[mart], obj=mart)


def test_no_sales_fails_naming_the_table_and_keeps_the_marts(published, db):
    current = db.execute(
        "select run_id from published.current_runs where mart = 'customer_recommendations'"
    ).fetchone()
    count = db.execute("select count(*) from marts.customer_recommendations").fetchone()[0]
    db.execute("delete from staging.order_lines")
    run = runtime.run_dag("recommend_products", {})
    assert run.state == "failed"
    error = db.execute(
        "select error from audit.task_failures where dag_id = 'recommend_products' and run_id = %s",
        (run.run_id,),
    ).fetchone()[0]
    assert "staging.order_lines" in error
    assert (
        db.execute(
            "select run_id from published.current_runs where mart = 'customer_recommendations'"
        ).fetchone()
        == current
    )
    assert db.execute("select count(*) from marts.customer_recommendations").fetchone()[0] == count


def test_a_two_day_history_publishes_lists_without_evaluation(warehouse, db, tmp_path):
    """3,000 real lines covering two days: too short for the windows, yet the whole pipeline
    publishes similarity, pairs and both lists; the metrics say 'not_evaluated' and why."""
    import zipfile

    from tests.conftest import ECOMMERCE_ZIP, require

    with zipfile.ZipFile(require(ECOMMERCE_ZIP)) as zf:
        lines = zf.read("data.csv").decode("latin-1").splitlines()
    first_day_ends = next(i for i, line in enumerate(lines[1:], 1) if ",12/2/2010 " in line)
    head = [lines[0], *lines[first_day_ends - 1500 : first_day_ends + 1500]]  # 3,000 lines, 2 days
    path = tmp_path / "two_days.csv"
    path.write_bytes(("\n".join(head) + "\n").encode("latin-1"))

    assert runtime.run_dag("ingest_ecommerce", {"source": str(path)}).state == "success"
    assert runtime.run_dag("validate_and_clean", {}).state == "success"
    assert runtime.run_dag("segment_customers", {}).state == "success"
    run = runtime.run_dag("recommend_products", {})
    assert run.state == "success"
    assert runtime.run_dag("publish_marts", {"export_hyper": False}).state == "success"
    for mart in MARTS:
        query = sql.SQL("select count(*), max(run_id) from {}").format(sql.Identifier("marts", mart))
        count, run_id = db.execute(query).fetchone()
        assert count > 0 and run_id == run.run_id, mart
    metrics = _frame(
        db,
        "select method, list_type, ndcg_at_10, evaluation_status, evaluation_note from marts.recommendation_metrics",
    )
    assert (metrics["evaluation_status"] == "not_evaluated").all()
    assert metrics["ndcg_at_10"].isna().all()
    assert metrics["evaluation_note"].str.contains("too short").all()
    lists = _frame(
        db, "select customer_id, list_type, count(*) as n from marts.customer_recommendations group by 1, 2"
    )
    assert set(lists["list_type"]) == {"discover", "buy_again"}
    customers = db.execute("select count(*) from staging.customers").fetchone()[0]
    assert lists.loc[lists["list_type"] == "discover", "customer_id"].nunique() == customers
    assert lists.loc[lists["list_type"] == "discover", "n"].max() == config.RECOMMENDATIONS_PER_LIST
