"""The evaluation's side process changes where the work runs, not what it gives."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from include import config
from include.ml import protocol

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The interactions and products of the real sample (customer x product x day)."""
    with zipfile.ZipFile(config.SAMPLE_SOURCE) as archive, archive.open("data.csv") as raw:
        lines = pd.read_csv(raw, encoding="ISO-8859-1", dtype={"CustomerID": "float64", "StockCode": str})
    lines = lines[lines["CustomerID"].notna() & (lines["Quantity"] > 0) & (lines["UnitPrice"] > 0)]
    lines = lines[~lines["InvoiceNo"].astype(str).str.startswith("C")]
    lines["invoice_date"] = pd.to_datetime(lines["InvoiceDate"], format="%m/%d/%Y %H:%M").dt.normalize()
    lines["customer_id"] = lines["CustomerID"].astype(np.int64)
    lines["product_id"] = lines["StockCode"].str.upper()
    interactions = (
        lines.groupby(["customer_id", "product_id", "invoice_date"])
        .agg(invoices=("InvoiceNo", "nunique"), quantity=("Quantity", "sum"))
        .reset_index()
    )
    products = (
        lines.groupby("product_id")["Description"].first().fillna("").rename("description").reset_index()
    )
    return interactions, products


def _metrics(shop, monkeypatch, workers: int) -> pd.DataFrame:
    interactions, products = shop
    monkeypatch.setattr(config, "RECOMMEND_WORKERS", workers)
    monkeypatch.setattr(config, "SIDE_PROCESS_MIN_PAIRS", 0)  # the sample is below the default
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # as the evaluate task: BLAS threads = the fits' threads
        outcome = protocol.run(interactions, products, lambda as_of: None, folder=None, threads=1)
    assert outcome.status == "evaluated"
    return outcome.metrics.sort_values(["list_type", "method"]).reset_index(drop=True)


def test_a_side_process_gives_the_metrics_of_one_process(shop, monkeypatch, caplog):
    caplog.set_level("INFO")
    alone = _metrics(shop, monkeypatch, workers=1)
    assert {r.processName for r in caplog.records} == {"MainProcess"}
    caplog.clear()
    shared = _metrics(shop, monkeypatch, workers=2)
    # the worker's records come back into this process's loggers (the task log)
    side_records = [r for r in caplog.records if r.processName != "MainProcess"]
    assert any(r.getMessage().startswith("tuned ") for r in side_records)
    assert len(alone) == len(shared) >= 14
    pd.testing.assert_frame_equal(alone, shared)
