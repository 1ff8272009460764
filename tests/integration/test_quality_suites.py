"""The GX suites pass a good fixture and fail a bad one, on real tables."""

from __future__ import annotations

import pytest

from include import config
from include.quality import suites
from include.quality.validate import ValidationFailed, validate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample_load(warehouse) -> dict:
    from include.tasks.ingest_ecommerce import land_source, load_raw
    from include.transform.cleaning import clean_load

    load = load_raw(land_source(str(config.SAMPLE_SOURCE)), "test_suites", "suites-sample")
    clean_load(load["load_id"])
    return load


def test_raw_suite_passes_the_sample(sample_load):
    report = validate(
        lambda: [suites.raw_suite("online_retail")], "suites-raw", "sample", sample_load["load_id"]
    )
    assert report.hard_failures == [] and report.expectations >= 15
    assert report.data_docs.endswith("data_docs/index.html")


def test_raw_suite_fails_a_load_without_rows(sample_load):
    with pytest.raises(
        ValidationFailed,
        match=r"raw.online_retail_lines \(load -1\): expect_table_row_count_to_be_between\(min_value=1\): the load has no rows",
    ):
        validate(lambda: [suites.raw_suite("online_retail")], "suites-raw-empty", "empty", -1)


def test_staging_suites_pass_then_fail_on_a_dangling_product(sample_load, db):
    report = validate(lambda: suites.staging_suites("online_retail"), "suites-staging", "sample")
    assert report.hard_failures == [] and report.suites == 4
    product = db.execute("select product_id from staging.order_lines limit 1").fetchone()[0]
    db.execute("delete from staging.products where product_id = %s", (product,))
    try:
        with pytest.raises(ValidationFailed) as err:
            validate(lambda: suites.staging_suites("online_retail"), "suites-staging-bad", "sample")
        message = str(err.value)
        assert "staging.order_lines: every product referenced exists in staging.products" in message
        assert "Data Docs:" in message
    finally:
        from include.transform.cleaning import clean_load

        clean_load(sample_load["load_id"])  # restore staging for the other tests


def test_staging_suites_fail_on_a_repeated_line_key(sample_load, db):
    """The key check is a query of ours (GX's compound-unique metric is quadratic in practice):
    with the primary key lifted, a copied line is found and named."""
    db.execute("alter table staging.returns drop constraint returns_pkey")
    db.execute("insert into staging.returns select * from staging.returns limit 1")
    try:
        with pytest.raises(ValidationFailed) as err:
            validate(lambda: suites.staging_suites("online_retail"), "suites-staging-key", "sample")
        assert "staging.returns: (load_id, source_line_number) is unique" in str(err.value)
    finally:
        from include.transform.cleaning import clean_load

        db.execute("truncate staging.returns")
        db.execute("alter table staging.returns add primary key (load_id, source_line_number)")
        clean_load(sample_load["load_id"])
