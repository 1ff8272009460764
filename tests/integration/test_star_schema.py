"""The star schema on the sample, end to end through the DAGs: the facts reconcile with staging
(rows, revenue, revenue per month), every fact key resolves to its dimension, the dimensions hold
what they promise, and the star marts switch with the rest of the snapshot."""

from __future__ import annotations

from datetime import date

import pytest
from psycopg import sql

from include import config
from include.publish import marts as publish

pytestmark = pytest.mark.integration

STAR = [m.name for m in publish.STAR_MARTS]


@pytest.fixture(scope="module")
def published(warehouse) -> dict:
    """The whole pipeline on the sample; returns the run ids of the publication."""
    from tools import runtime

    runs = {}
    for dag_id, conf in (
        ("ingest_ecommerce", {"source": str(config.SAMPLE_SOURCE)}),
        ("validate_and_clean", {}),
        ("segment_customers", {}),
        ("recommend_products", {}),
        ("publish_marts", {"export_hyper": False}),
    ):
        run = runtime.run_dag(dag_id, conf)
        assert run.state == "success", dag_id
        runs[dag_id] = run.run_id
    return runs


def _one(db, query: str, params=None):
    return db.execute(query, params).fetchone()


def test_order_lines_reconcile_with_staging_rows_revenue_and_months(published, db):
    staging = _one(db, "select count(*), sum(line_amount) from staging.order_lines")
    fact = _one(db, "select count(*), sum(amount) from marts.fct_order_lines")
    assert fact == staging and staging[0] > 50_000
    by_month = """
        select to_char(invoiced_at, 'YYYY-MM'), sum(line_amount) from staging.order_lines group by 1 order by 1
    """
    star_by_month = """
        select d.year_month, sum(f.amount) from marts.fct_order_lines f
          join marts.dim_dates d on d.date_key = f.date_key group by 1 order by 1
    """
    assert db.execute(star_by_month).fetchall() == db.execute(by_month).fetchall()
    # guests stay in the fact, without a customer
    guests = _one(db, "select count(*) from staging.order_lines where is_guest")[0]
    assert (
        _one(db, "select count(*) from marts.fct_order_lines where customer_id is null and is_guest")[0]
        == guests
    )


def test_returns_reconcile_with_staging(published, db):
    staging = _one(db, "select count(*), sum(line_amount), sum(quantity) from staging.returns")
    fact = _one(db, "select count(*), sum(amount), sum(quantity) from marts.fct_returns")
    assert fact == staging and staging[0] > 0


@pytest.mark.parametrize("fact", ["fct_order_lines", "fct_returns"])
@pytest.mark.parametrize(
    ("key", "dimension"),
    [("customer_id", "dim_customers"), ("product_id", "dim_products"), ("date_key", "dim_dates")],
)
def test_every_fact_key_resolves_to_its_dimension(published, db, fact, key, dimension):
    orphans = db.execute(
        sql.SQL(
            "select count(*) from {fact} f left join {dim} d on d.{key} = f.{key}"
            " where f.{key} is not null and d.{key} is null"
        ).format(
            fact=sql.Identifier("marts", fact),
            dim=sql.Identifier("marts", dimension),
            key=sql.Identifier(key),
        )
    ).fetchone()[0]
    assert orphans == 0


def test_dimensions_hold_one_row_per_member_with_the_snapshot_segments(published, db):
    assert _one(db, "select count(*) from marts.dim_customers") == _one(
        db, "select count(*) from staging.customers"
    )
    assert _one(db, "select count(*) from marts.dim_products") == _one(
        db, "select count(*) from staging.products"
    )
    # the customer's segment and RFM are those of the published segmentation
    mismatched = _one(
        db,
        "select count(*) from marts.dim_customers c full join marts.customer_segments s using (customer_id)"
        " where s.customer_id is null and c.is_segmented"
        " or s.customer_id is not null and (c.segment_id, c.segment_name, c.recency_days, c.frequency, c.monetary)"
        " is distinct from (s.segment_id, s.segment_name, s.recency_days, s.frequency, s.monetary)",
    )[0]
    assert mismatched == 0
    first, last = _one(
        db,
        "select min(invoiced_at)::date, max(invoiced_at)::date from"
        " (select invoiced_at from staging.order_lines union all select invoiced_at from staging.returns) l",
    )
    days = _one(
        db, "select count(*), min(date_key), max(date_key), count(distinct date_key) from marts.dim_dates"
    )
    assert days == ((last - first).days + 1, first, last, (last - first).days + 1)
    # a known day inside the sample's range (2010-12-01 .. 2011-12-09): a Sunday of ISO week 48
    sunday = _one(
        db,
        "select year, quarter, month_name, year_month, iso_week, iso_weekday, weekday_name, is_weekend"
        " from marts.dim_dates where date_key = %s",
        (date(2011, 12, 4),),
    )
    assert sunday == (2011, 4, "December", "2011-12", 48, 7, "Sunday", True)


def test_products_have_a_group_and_equal_prices_share_a_band(published, db):
    bands = db.execute(
        "select price_band, min(typical_unit_price), max(typical_unit_price), count(*)"
        " from marts.dim_products group by 1 order by 1"
    ).fetchall()
    assert [b[0] for b in bands] == list(range(1, config.PRICE_BANDS + 1))
    for lower, upper in zip(bands, bands[1:], strict=False):
        assert lower[2] < upper[1], "bands do not overlap: equal prices share a band"
    products = _one(db, "select count(*) from marts.dim_products")[0]
    assert all(abs(b[3] - products / config.PRICE_BANDS) < products / config.PRICE_BANDS for b in bands)
    groups = dict(db.execute("select product_group, count(*) from marts.dim_products group by 1").fetchall())
    assert 5 <= len(groups) < products / 10, groups
    # a product's group is a word of its description (or Other)
    wrong = _one(
        db,
        "select count(*) from marts.dim_products where product_group <> 'Other'"
        " and strpos(upper(description), upper(product_group)) = 0",
    )[0]
    assert wrong == 0


def test_star_marts_switch_with_the_snapshot(published, db):
    pointers = dict(db.execute("select mart, run_id from published.current_runs"))
    run_id = published["publish_marts"]
    assert {pointers[m] for m in STAR} == {run_id}
    assert {pointers[m.name] for m in publish.TREND_MARTS} == {run_id}
    for mart in STAR:
        runs = db.execute(
            sql.SQL("select distinct run_id from {}").format(sql.Identifier("marts", mart))
        ).fetchall()
        assert runs == [(run_id,)], mart
    assert _one(db, "select run_id from marts.pipeline_runs where is_current") == (run_id,)
    # the facts are partitioned by run: the published run has its own partition, indexed
    partition = publish.MARTS["fct_order_lines"].partition(run_id)
    indexes = db.execute(
        "select indexdef from pg_indexes where schemaname = 'published' and tablename = %s", (partition,)
    ).fetchall()
    assert len(indexes) == 3, indexes


def test_a_rerun_of_the_star_schema_writes_the_same_rows(published, db):
    from include.tasks import publish_marts

    checksum = """
        select count(*), sum(amount), md5(string_agg(order_line_key::text || product_id, ',' order by order_line_key))
          from published.fct_order_lines where run_id = %s
    """
    run_id = published["publish_marts"]
    before = _one(db, checksum, (run_id,))
    snapshot = _one(
        db,
        "select load_id, segments_run_id, recommendations_run_id from marts.pipeline_runs where is_current",
    )
    try:
        counts = publish_marts.publish_star_schema(
            run_id, dict(zip(("load_id", "segments_run_id", "recommendations_run_id"), snapshot, strict=True))
        )
    finally:  # the rerun staged the run again: it is published already
        db.execute("delete from published.staged_runs where run_id = %s", (run_id,))
    assert counts["fct_order_lines"] == before[0]
    assert _one(db, checksum, (run_id,)) == before
    assert _one(db, "select count(*), sum(amount) from marts.fct_order_lines") == before[:2]


def test_data_quality_history_of_the_published_load_reaches_bi(published, db):
    rows = db.execute(
        "select table_name, count(*), bool_and(success) from marts.data_quality_runs"
        " where is_current_load and dag_run_id = %s group by 1 order by 1",
        (published["validate_and_clean"],),
    ).fetchall()
    assert [r[0] for r in rows] == [
        "raw.online_retail_lines",
        "staging.customers",
        "staging.order_lines",
        "staging.products",
        "staging.returns",
    ]
    assert all(passed for _, _, passed in rows)
