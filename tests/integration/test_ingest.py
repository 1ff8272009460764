"""Ingestion through the real DAG on the real PostgreSQL: exact row counts, idempotent reruns,
and bad files that fail the task at once with the file and the problem named."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from include import config

pytestmark = pytest.mark.integration


def _task_states(run) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}


def _last_run(db) -> tuple:
    return db.execute(
        "select load_id, run_id, layout, rows_landed, status, error from audit.ingest_runs"
        " order by load_id desc limit 1"
    ).fetchone()


def _raw_count(db, table: str, load_id: int) -> int:
    from psycopg import sql

    query = sql.SQL("select count(*) from {} where load_id = %s").format(sql.Identifier("raw", table))
    return db.execute(query, (load_id,)).fetchone()[0]


@pytest.mark.slow
def test_full_online_retail_lands_every_row_and_reruns_change_nothing(dag_runner, db, ecommerce_zip):
    run = dag_runner("ingest_ecommerce", {"source": str(ecommerce_zip)})
    assert run.state == "success", _task_states(run)
    load_id, run_id, layout, rows, status, _ = _last_run(db)
    assert (layout, rows, status) == ("online_retail", 541_909, "success")
    assert _raw_count(db, "online_retail_lines", load_id) == 541_909
    first, last = db.execute(
        "select min(source_line_number), max(source_line_number) from raw.online_retail_lines where load_id = %s",
        (load_id,),
    ).fetchone()
    assert (first, last) == (2, 541_910)  # line 1 is the header
    # the first data line of the file, as landed (ISO-8859-1 text decoded, nothing typed yet)
    assert db.execute(
        "select invoice_no, stock_code, invoice_date, unit_price, customer_id from raw.online_retail_lines"
        " where load_id = %s and source_line_number = 2",
        (load_id,),
    ).fetchone() == ("536365", "85123A", "12/1/2010 8:26", "2.55", "17850")

    # rerunning the same run (as a cleared task does) replaces its rows: the counts stay
    from include.tasks.ingest_ecommerce import land_source, load_raw

    landed = land_source(str(ecommerce_zip))
    assert landed["already_landed"]
    again = load_raw(landed, "ingest_ecommerce", run_id)
    assert again["load_id"] == load_id and again["rows"] == 541_909
    assert _raw_count(db, "online_retail_lines", load_id) == 541_909
    assert (
        db.execute("select count(*) from audit.ingest_runs where run_id = %s", (run_id,)).fetchone()[0] == 1
    )


def test_customer_personality_lands_2240_rows_twice_without_duplicates(dag_runner, db, personality_zip):
    from include.tasks.ingest_ecommerce import land_source, load_raw

    run = dag_runner("ingest_ecommerce", {"source": str(personality_zip), "layout": "auto"})
    assert run.state == "success", _task_states(run)
    load_id, run_id, layout, rows, status, _ = _last_run(db)
    assert (layout, rows, status) == ("customer_personality", 2_240, "success")
    load_raw(land_source(str(personality_zip)), "ingest_ecommerce", run_id)
    assert _raw_count(db, "customer_personality_rows", load_id) == 2_240


def test_sample_lands_with_line_numbers(dag_runner, db):
    run = dag_runner("ingest_ecommerce", {"source": str(config.SAMPLE_SOURCE)})
    assert run.state == "success", _task_states(run)
    load_id, *_, rows, status, _ = _last_run(db)
    assert status == "success" and rows > 50_000
    assert _raw_count(db, "online_retail_lines", load_id) == rows


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


HEADER = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
LINE = b"536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str, str]]:
    """name -> (file, layout param, expected words in the error)."""
    corrupt = tmp / "corrupt.zip"
    corrupt.write_bytes(config.SAMPLE_SOURCE.read_bytes()[:5000])
    header_only = tmp / "header_only.csv"
    header_only.write_bytes(HEADER)
    missing = tmp / "missing_column.csv"
    missing.write_bytes(
        HEADER.replace(b",UnitPrice", b"") + b"536365,85123A,X,6,12/1/2010 8:26,17850,United Kingdom\n"
    )
    other = tmp / "retail_ii.csv"
    other.write_bytes(b"Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n")
    return {
        "corrupt zip": (corrupt, "auto", "corrupt"),
        "zip without the CSV": (
            _zip(tmp / "no_csv.zip", {"README.md": b"nothing here"}),
            "auto",
            "no CSV file",
        ),
        "header-only file": (header_only, "auto", "header only, no data rows"),
        "missing column": (missing, "auto", "missing required column(s) UnitPrice"),
        "other layout's header": (other, "online_retail", "looks like layout 'online_retail_ii'"),
    }


@pytest.mark.parametrize(
    "case",
    ["corrupt zip", "zip without the CSV", "header-only file", "missing column", "other layout's header"],
)
def test_bad_file_fails_the_task_naming_file_and_problem(case, dag_runner, db, tmp_path):
    path, layout, words = _bad_files(tmp_path)[case]
    run = dag_runner("ingest_ecommerce", {"source": str(path), "layout": layout})
    assert run.state == "failed"
    assert _task_states(run) == {
        "prepare_warehouse": "success",
        "land_source": "success",
        "load_raw": "failed",
        "prune_raw_loads": "upstream_failed",
    }
    _, run_id, _, _, status, error = _last_run(db)
    assert run_id == run.run_id and status == "failed"
    assert path.name in error and words in error


def test_a_failed_task_is_recorded_with_its_runbook_link(dag_runner, db, tmp_path):
    path = tmp_path / "header_only.csv"
    path.write_bytes(HEADER)
    run = dag_runner("ingest_ecommerce", {"source": str(path)})
    assert run.state == "failed"
    task_id, error, url = db.execute(
        "select task_id, error, runbook_url from audit.task_failures where run_id = %s", (run.run_id,)
    ).fetchone()
    assert task_id == "load_raw" and "header only, no data rows" in error
    assert url.endswith("docs/runbook.md#ingest-ecommerce-load-raw")
