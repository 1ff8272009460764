"""Data-quality history: every Great Expectations validation keeps the result of each expectation
in audit.data_quality_results (raw and staging suites, both layouts), failures included, and BI
reads it as marts.data_quality_runs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from include import config
from include.quality import suites
from include.quality.validate import ValidationFailed, validate

pytestmark = pytest.mark.integration

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def _load(path: Path, run_id: str) -> dict:
    from include.tasks.ingest_ecommerce import land_source, load_raw

    return load_raw(land_source(str(path)), "test_data_quality", run_id)


def _results(db, run_id: str) -> list[dict]:
    cur = db.execute(
        "select suite_name, expectation_index, expectation_type, column_name, severity, success,"
        " element_count, unexpected_count, unexpected_percent, observed_value, exception_message, load_id,"
        " stage, table_name from audit.data_quality_results where dag_run_id = %s"
        " order by suite_name, expectation_index",
        (run_id,),
    )
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur]


@pytest.fixture(autouse=True)
def _gx_context():
    """Suites are built inside a GX context (validate() makes its own; the tests count theirs)."""
    import great_expectations as gx

    return gx.get_context(mode="ephemeral")


@pytest.fixture(scope="module")
def sample_load(warehouse) -> dict:
    from include.transform.cleaning import clean_load

    load = _load(config.SAMPLE_SOURCE, "dq-sample")
    clean_load(load["load_id"])
    return load


def test_a_validation_of_the_sample_keeps_one_row_per_expectation(sample_load, db):
    target = suites.raw_suite("online_retail")
    expected = len(target.suite.expectations)
    report = validate(lambda: [target], "dq-raw", "sample", sample_load["load_id"])
    rows = _results(db, "dq-raw")
    assert len(rows) == report.expectations == expected
    assert [r["expectation_index"] for r in rows] == list(range(1, expected + 1))
    assert all(r["success"] for r in rows)
    assert {(r["suite_name"], r["stage"], r["table_name"], r["load_id"]) for r in rows} == {
        ("raw_online_retail", "raw", "raw.online_retail_lines", sample_load["load_id"])
    }
    lines = 57_282
    by_type = {(r["expectation_type"], r["column_name"]): r for r in rows}
    assert by_type[("expect_table_row_count_to_be_between", None)]["observed_value"] == str(lines)
    invoice = by_type[("expect_column_values_to_match_regex", "invoice_no")]
    assert (invoice["element_count"], invoice["severity"]) == (lines, "soft")
    assert invoice["unexpected_count"] == 0
    # the same DAG run validating again (a retry) replaces its rows
    validate(lambda: [suites.raw_suite("online_retail")], "dq-raw", "sample", sample_load["load_id"])
    assert len(_results(db, "dq-raw")) == expected


def test_staging_suites_keep_their_results_under_the_load(sample_load, db):
    targets = suites.staging_suites("online_retail")
    expected = {t.suite.name: len(t.suite.expectations) for t in targets}
    validate(lambda: suites.staging_suites("online_retail"), "dq-staging", "sample", sample_load["load_id"])
    rows = _results(db, "dq-staging")
    counts = {}
    for row in rows:
        counts[row["suite_name"]] = counts.get(row["suite_name"], 0) + 1
    assert counts == expected
    assert all(r["success"] and r["stage"] == "staging" for r in rows)
    assert {r["load_id"] for r in rows} == {sample_load["load_id"]}
    # unexpected-rows expectations count the rows their query returned
    references = [r for r in rows if r["expectation_type"] == "unexpected_rows_expectation"]
    assert references and all(r["unexpected_count"] == 0 for r in references)


def test_a_bad_file_keeps_its_failing_expectation_with_the_unexpected_count(warehouse, db, tmp_path):
    with zipfile.ZipFile(config.SAMPLE_SOURCE) as zf:
        good = zf.read("data.csv").decode("latin-1").splitlines()[1:401]
    # 10 invoice numbers of 410 lines (2.4 %) break the invoice pattern, more than the 1 % its
    # soft expectation allows (mostly=0.99): the expectation fails, the validation warns
    bad = [f"X5810{n:02d},22138,BAKING SET,3,12/9/2011 12:50,4.95,12680,France" for n in range(10)]
    path = tmp_path / "bad_invoices.csv"
    path.write_bytes(("\n".join([HEADER, *good, *bad]) + "\n").encode("latin-1"))
    load = _load(path, "dq-bad-invoices")
    report = validate(lambda: [suites.raw_suite("online_retail")], "dq-bad", "bad", load["load_id"])
    assert any("invoice_no" in problem for problem in report.soft_failures)
    failed = [r for r in _results(db, "dq-bad") if not r["success"]]
    assert len(failed) == 1
    (row,) = failed
    assert (row["expectation_type"], row["column_name"], row["severity"]) == (
        "expect_column_values_to_match_regex",
        "invoice_no",
        "soft",
    )
    assert (row["unexpected_count"], row["element_count"], row["load_id"]) == (10, 410, load["load_id"])
    assert float(row["unexpected_percent"]) == pytest.approx(100 * 10 / 410, abs=1e-3)


def test_a_load_without_rows_keeps_its_failed_row_count(sample_load, db):
    with pytest.raises(ValidationFailed, match="the load has no rows"):
        validate(lambda: [suites.raw_suite("online_retail")], "dq-empty", "empty", -1)
    (row,) = _results(db, "dq-empty")
    assert (row["expectation_type"], row["success"], row["severity"]) == (
        "expect_table_row_count_to_be_between",
        False,
        "hard",
    )
    assert row["expectation_index"] == 1 and row["observed_value"] == "0"
    assert row["exception_message"] == "the load has no rows"


def test_a_hard_failure_is_kept_before_the_task_fails(sample_load, db):
    product = db.execute(
        "select product_id from staging.order_lines"
        " where product_id not in (select product_id from staging.returns) limit 1"
    ).fetchone()[0]
    db.execute("delete from staging.products where product_id = %s", (product,))
    try:
        with pytest.raises(ValidationFailed):
            validate(
                lambda: suites.staging_suites("online_retail"),
                "dq-dangling",
                "sample",
                sample_load["load_id"],
            )
    finally:
        from include.transform.cleaning import clean_load

        clean_load(sample_load["load_id"])  # restore staging for the other tests
    failed = [r for r in _results(db, "dq-dangling") if not r["success"]]
    assert [(r["suite_name"], r["severity"]) for r in failed] == [("staging_order_lines", "hard")]
    lines = db.execute(
        "select count(*) from staging.order_lines where product_id = %s", (product,)
    ).fetchone()[0]
    assert failed[0]["unexpected_count"] == lines > 0


def test_customer_personality_validations_are_kept_too(warehouse, db):
    from include.transform.cleaning import clean_load

    load = _load(config.SAMPLE_DIR / "customer_personality_sample.zip", "dq-profiles")
    clean_load(load["load_id"])
    validate(lambda: [suites.raw_suite("customer_personality")], "dq-profiles", "profiles", load["load_id"])
    validate(
        lambda: suites.staging_suites("customer_personality"), "dq-profiles", "profiles", load["load_id"]
    )
    rows = _results(db, "dq-profiles")
    assert {r["suite_name"] for r in rows} == {"raw_customer_personality", "staging_customer_profiles"}
    assert {r["table_name"] for r in rows} == {"raw.customer_personality_rows", "staging.customer_profiles"}
    expected = len(suites.raw_suite("customer_personality").suite.expectations) + sum(
        len(t.suite.expectations) for t in suites.staging_suites("customer_personality")
    )
    assert len(rows) == expected
