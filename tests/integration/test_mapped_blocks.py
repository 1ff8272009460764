"""The mapped steps on the sample (recommend_products' similarity and lists, segment_customers'
features): the same DAG run once with one block per mapped step and once with several (small
MAPPED_*_PER_TASK), and the published rows of the two runs compared by checksum (every column but run_id; floats exactly, not rounded: a product's
neighbours and a customer's lists are computed against the whole catalogue and history,
whatever block they are in). The mapped run must really have several task instances, and a
block lost or written twice must fail the publication."""

from __future__ import annotations

from collections import Counter

import pytest
from psycopg import sql

from include import config
from include.errors import BadInputError
from tools import runtime

pytestmark = pytest.mark.integration

# the four marts of the run, and the columns that order their rows (every column is hashed)
MARTS = {
    "product_similarity": ("product_id", "method", "rank"),
    "product_pairs": ("product_id", "other_product_id"),
    "customer_recommendations": ("customer_id", "list_type", "rank"),
    "recommendation_metrics": ("method", "list_type"),
}
SEGMENT_MARTS = {
    "customer_segments": ("customer_id",),
    "segment_profiles": ("segment_id",),
    "segmentation_metrics": ("algorithm", "k"),
}
# the sample: 3,087 products and 598 customers (+2 registered without purchases below), so
# 4 product blocks of up to 772 and 3 customer blocks of up to 200
PRODUCTS_PER_TASK, CUSTOMERS_PER_TASK = 800, 201
# registered, never bought: one below and one above every customer id, in the first and last block
COLD_START_CUSTOMERS = (1, 99_999)


def _checksum(db, mart: str, run_id: str) -> tuple[int, str]:
    """(rows, md5 of the ordered rows of the run) of published.<mart>, run_id left out."""
    columns = [
        r[0]
        for r in db.execute(
            "select column_name from information_schema.columns where table_schema = 'published'"
            " and table_name = %s and column_name <> 'run_id' order by ordinal_position",
            (mart,),
        )
    ]
    row = sql.SQL("row({})::text").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
    order = sql.SQL(", ").join(map(sql.Identifier, {**MARTS, **SEGMENT_MARTS}[mart]))
    query = sql.SQL(
        "select count(*), md5(coalesce(string_agg({row}, E'\\n' order by {order}), '')) from {table}"
        " where run_id = %s"
    ).format(row=row, order=order, table=sql.Identifier("published", mart))
    return db.execute(query, (run_id,)).fetchone()


def _mapped_instances(run) -> Counter:
    """Task instances per task id of the DAG run (a mapped task: one per block)."""
    return Counter(ti.task_id for ti in run.get_task_instances() if ti.state == "success")


@pytest.fixture(scope="module")
def runs(warehouse):
    """The sample cleaned and segmented, two registered customers without purchases, then
    recommend_products with the default blocks (one each) and with small blocks."""
    from include.db.connection import connect

    assert runtime.run_dag("ingest_ecommerce", {"source": str(config.SAMPLE_SOURCE)}).state == "success"
    assert runtime.run_dag("validate_and_clean", {}).state == "success"
    assert runtime.run_dag("segment_customers", {}).state == "success"
    with connect(warehouse) as conn:
        for customer_id in COLD_START_CUSTOMERS:
            conn.execute(
                "insert into staging.customers (load_id, customer_id, country, first_invoice_at, last_invoice_at)"
                " select load_id, %s, 'United Kingdom', timestamp '2011-12-09', timestamp '2011-12-09'"
                " from staging.customers limit 1",
                (customer_id,),
            )
    single = runtime.run_dag("recommend_products", {})
    assert single.state == "success"
    with pytest.MonkeyPatch.context() as patch:  # dag.test() runs the tasks in this process
        patch.setattr(config, "MAPPED_PRODUCTS_PER_TASK", PRODUCTS_PER_TASK)
        patch.setattr(config, "MAPPED_CUSTOMERS_PER_TASK", CUSTOMERS_PER_TASK)
        mapped = runtime.run_dag("recommend_products", {})
    assert mapped.state == "success"
    return single, mapped


def _features_checksum(warehouse: str, run_id: str) -> tuple[int, str]:
    from include.db.connection import connect

    with connect(warehouse) as db:
        return db.execute(
            "select count(*), md5(string_agg(row(customer_id, recency_days, frequency, monetary, units,"
            " return_rate, avg_days_between_orders)::text, ',' order by customer_id))"
            " from ml.customer_features where run_id = %s",
            (run_id,),
        ).fetchone()


@pytest.fixture(scope="module")
def segment_runs(runs, warehouse):
    """segment_customers on the same staging data with one feature block, then with several;
    with the features of each (a run drops the features of runs not published: read them first)."""
    single = runtime.run_dag("segment_customers", {})
    single_features = _features_checksum(warehouse, single.run_id)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config, "MAPPED_CUSTOMERS_PER_TASK", CUSTOMERS_PER_TASK)
        mapped = runtime.run_dag("segment_customers", {})
    assert (single.state, mapped.state) == ("success", "success")
    return single, mapped, single_features, _features_checksum(warehouse, mapped.run_id)


def test_mapped_and_single_feature_blocks_give_identical_segments(segment_runs, db):
    single, mapped, single_features, mapped_features = segment_runs
    assert _mapped_instances(single)["build_features"] == 1
    assert _mapped_instances(mapped)["build_features"] == 3
    assert single_features[0] > 0
    assert mapped_features == single_features
    for mart in SEGMENT_MARTS:
        rows, digest = _checksum(db, mart, single.run_id)
        assert rows > 0, mart
        assert _checksum(db, mart, mapped.run_id) == (rows, digest), mart


def test_the_mapped_run_had_several_blocks_and_the_single_one_one(runs):
    single, mapped = runs
    assert _mapped_instances(single)["build_similarity"] == 1
    assert _mapped_instances(single)["build_recommendations"] == 1
    assert _mapped_instances(mapped)["build_similarity"] == 4
    assert _mapped_instances(mapped)["build_recommendations"] == 3
    blocks = {
        (ti.task_id, ti.map_index): ti.rendered_map_index
        for ti in mapped.get_task_instances()
        if ti.task_id == "build_recommendations"
    }
    assert blocks[("build_recommendations", 0)].startswith("block 1/3: key < ")
    last = blocks[("build_recommendations", 2)]
    assert last.startswith("block 3/3: ") and last.endswith(" <= key")


def test_mapped_and_single_task_runs_publish_identical_marts(runs, db):
    single, mapped = runs
    for mart in MARTS:
        rows, digest = _checksum(db, mart, single.run_id)
        assert rows > 0, mart
        assert _checksum(db, mart, mapped.run_id) == (rows, digest), mart
    # every customer has a discover list, the cold-start ones of the first and last block too
    listed = dict(
        db.execute(
            "select customer_id, bool_and(is_cold_start) from published.customer_recommendations"
            " where run_id = %s and list_type = 'discover' group by 1",
            (mapped.run_id,),
        ).fetchall()
    )
    assert set(listed) == {r[0] for r in db.execute("select customer_id from staging.customers")}
    assert all(listed[c] for c in COLD_START_CUSTOMERS)


def test_a_lost_or_doubled_block_fails_the_publication(runs, db):
    """The checks publish_recommendations runs on the mapped run: the blocks' XCom results (one
    left out, one twice) and the rows (one block's deleted): each fails, naming the mart."""
    from include.tasks import recommend_products as steps

    _, mapped = runs
    instances = sorted(mapped.get_task_instances(), key=lambda ti: ti.map_index)
    results = {
        task_id: [
            ti.xcom_pull(task_ids=task_id, map_indexes=ti.map_index)
            for ti in instances
            if ti.task_id == task_id
        ]
        for task_id in ("build_similarity", "build_recommendations")
    }
    similar, recommended = results["build_similarity"], results["build_recommendations"]
    assert [r["block"] for r in recommended] == [0, 1, 2]
    for broken in (recommended[:-1], [*recommended, recommended[1]]):
        with pytest.raises(BadInputError, match="customer_recommendations: the mapped blocks"):
            steps.publish_recommendations(mapped.run_id, similar, broken)
    with pytest.raises(BadInputError, match="product_similarity: the mapped blocks"):
        steps.publish_recommendations(mapped.run_id, similar[1:], recommended)

    # the rows of the middle customer block lost (as if its task had written nothing)
    middle = steps.plan_blocks("customers", CUSTOMERS_PER_TASK)[1]
    deleted = db.execute(
        "delete from published.customer_recommendations where run_id = %s and customer_id >= %s"
        " and customer_id < %s",
        (mapped.run_id, middle["first"], middle["next"]),
    ).rowcount
    assert deleted > 0
    with pytest.raises(BadInputError, match="the 3 blocks wrote"):
        steps.publish_recommendations(mapped.run_id, similar, recommended)
    with pytest.raises(BadInputError, match="a discover list for every customer of staging.customers"):
        steps.publish_recommendations(mapped.run_id)  # the audit alone (no block results)
