"""The validate_and_clean DAG on the real database: every raw row ends in exactly one place,
with counts per reason on the full data; a failed run leaves staging and the marts untouched."""

from __future__ import annotations

import pytest
from psycopg import sql

from include import config

pytestmark = pytest.mark.integration


def _staging_counts(db) -> tuple[int, int, int]:
    return tuple(
        db.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("staging", t))).fetchone()[0]
        for t in ("order_lines", "returns", "rejected_lines")
    )


def marts_snapshot(db) -> dict[str, str]:
    """md5 of every marts view's rows (sorted) and the publication pointers."""
    snapshot = {}
    views = [
        r[0]
        for r in db.execute("select table_name from information_schema.views where table_schema = 'marts'")
    ]
    for view in sorted(views):
        query = sql.SQL("select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {} t")
        snapshot[view] = db.execute(query.format(sql.Identifier("marts", view))).fetchone()[0]
    snapshot["pointers"] = str(
        db.execute("select mart, run_id from published.current_runs order by 1").fetchall()
    )
    return snapshot


def test_sample_pipeline_cleans_and_validates(dag_runner, db):
    assert dag_runner("ingest_ecommerce", {"source": str(config.SAMPLE_SOURCE)}).state == "success"
    run = dag_runner("validate_and_clean", {})
    assert run.state == "success"
    load_id, raw = db.execute(
        "select load_id, rows_landed from audit.ingest_runs where status = 'success' order by load_id desc limit 1"
    ).fetchone()
    clean, returns, rejected = _staging_counts(db)
    assert clean + returns + rejected == raw == 57_282
    assert db.execute("select count(distinct load_id) from staging.order_lines").fetchone()[0] == 1
    docs = config.RUNS_DIR.glob("*/data_docs/index.html")
    assert any(docs), "Data Docs kept per run"
    # rerunning the cleaning changes nothing
    assert dag_runner("validate_and_clean", {"load_id": load_id}).state == "success"
    assert _staging_counts(db) == (clean, returns, rejected)


def test_a_failed_cleaning_run_fails_the_task_and_touches_nothing(dag_runner, db, tmp_path):
    if not db.execute("select count(*) from staging.order_lines").fetchone()[0]:
        assert dag_runner("ingest_ecommerce", {"source": str(config.SAMPLE_SOURCE)}).state == "success"
        assert dag_runner("validate_and_clean", {}).state == "success"
    before_staging, before_marts = _staging_counts(db), marts_snapshot(db)
    path = tmp_path / "only_cancellations.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "C581100,22138,BAKING SET,-3,12/9/2011 12:50,4.95,12680,France\n",
        encoding="latin-1",
    )
    assert dag_runner("ingest_ecommerce", {"source": str(path)}).state == "success"
    run = dag_runner("validate_and_clean", {})
    assert run.state == "failed"
    assert _staging_counts(db) == before_staging
    assert marts_snapshot(db) == before_marts


@pytest.mark.slow
def test_full_online_retail_every_row_in_exactly_one_place(dag_runner, db, ecommerce_zip):
    assert dag_runner("ingest_ecommerce", {"source": str(ecommerce_zip)}).state == "success"
    assert dag_runner("validate_and_clean", {}).state == "success"
    clean, returns, rejected = _staging_counts(db)
    assert clean + returns + rejected == 541_909
    assert (clean, returns, rejected) == (522_537, 8_668, 10_704)
    reasons = dict(
        db.execute("select reason_code, count(*) from staging.rejected_lines group by 1").fetchall()
    )
    assert reasons == {
        "duplicate_line": 5_262,
        "non_product_code": 2_947,
        "non_positive_quantity": 1_336,
        "non_positive_price": 1_156,
        "bad_invoice_no": 3,
    }
    # every line in exactly one place: no source line twice, none missing
    placed = db.execute(
        "select count(distinct source_line_number) from (select source_line_number from staging.order_lines"
        " union all select source_line_number from staging.returns"
        " union all select source_line_number from staging.rejected_lines) s"
    ).fetchone()[0]
    assert placed == 541_909
    assert db.execute("select count(*) from staging.customers").fetchone()[0] == 4_362


def test_exact_copies_only_are_duplicates_the_first_kept(dag_runner, db, tmp_path):
    """Copies are found through a hash of the 8 fields, then confirmed on the fields themselves:
    exact copies (blank fields included) are rejected after their first occurrence; a line that
    differs in any one field, however little, is not a copy."""
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    line = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
    guest = "536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,,United Kingdom\n"
    lines = [
        line,  # 1 kept
        line,  # 2 copy of 1
        line.replace("United Kingdom", "France"),  # 3 another country: not a copy
        line.replace(",6,", ",7,"),  # 4 another quantity: not a copy
        guest,  # 5 kept
        line,  # 6 copy of 1
        guest,  # 7 copy of 5 (blank CustomerID on both)
        guest.replace("HAND WARMER", "HAND  WARMER"),  # 8 one more space: not a copy
    ]
    # distinct clean lines after them, so that 3 copies stay under MAX_REJECTED_SHARE
    lines += [
        f"5364{i:02d},21730,GLASS STAR FROSTED T-LIGHT HOLDER,{i + 1},12/2/2010 9:00,4.25,13047,France\n"
        for i in range(80)
    ]
    path = tmp_path / "copies.csv"
    path.write_text(header + "".join(lines), encoding="latin-1")
    assert dag_runner("ingest_ecommerce", {"source": str(path)}).state == "success"
    assert dag_runner("validate_and_clean", {}).state == "success"
    load_id = db.execute("select max(load_id) from audit.ingest_runs where status = 'success'").fetchone()[0]
    rejected = db.execute(
        "select source_line_number, reason_code from staging.rejected_lines where load_id = %s order by 1",
        (load_id,),
    ).fetchall()
    copies = [n for n, reason in rejected if reason == "duplicate_line"]
    first = db.execute(
        "select min(source_line_number) from raw.transaction_lines where load_id = %s", (load_id,)
    ).fetchone()[0]
    assert [n - first + 1 for n in copies] == [2, 6, 7]
    kept = db.execute("select count(*) from staging.order_lines where load_id = %s", (load_id,)).fetchone()[0]
    assert kept == 5 + 80
