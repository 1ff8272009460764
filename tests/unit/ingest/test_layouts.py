"""Layout detection from the header: the layout, or a message naming file and problem."""

from __future__ import annotations

import pytest

from include.ingest.layouts import LAYOUTS, LayoutError, match_header, snake_case

pytestmark = pytest.mark.unit

RETAIL = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
RETAIL_II = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
PERSONALITY = "\t".join(LAYOUTS["customer_personality"].source_columns)


@pytest.mark.parametrize(
    ("header", "layout"),
    [(RETAIL, "online_retail"), (RETAIL_II, "online_retail_ii"), (PERSONALITY, "customer_personality")],
)
def test_detects_each_layout(header, layout):
    match = match_header(header + "\r\n", "f.csv")
    assert match.layout.name == layout
    assert match.is_exact and match.extra_columns == ()


def test_utf8_bom_is_ignored():
    assert match_header("\ufeff" + RETAIL, "f.csv").layout.name == "online_retail"


def test_extra_columns_are_tolerated_and_named():
    match = match_header(RETAIL + ",Channel", "f.csv")
    assert match.layout.name == "online_retail"
    assert match.extra_columns == ("Channel",) and not match.is_exact


def test_other_layouts_header_names_the_layout_it_looks_like():
    with pytest.raises(LayoutError, match=r"f\.csv: the header looks like layout 'online_retail_ii'"):
        match_header(RETAIL_II, "f.csv", "online_retail")


def test_missing_column_is_named():
    header = RETAIL.replace(",UnitPrice", "")
    with pytest.raises(LayoutError, match=r"f\.csv: missing required column\(s\) UnitPrice"):
        match_header(header, "f.csv")


def test_wrong_delimiter_is_named():
    with pytest.raises(LayoutError, match="semicolon-separated, but layout 'online_retail' is comma"):
        match_header(RETAIL.replace(",", ";"), "f.csv")


def test_unrelated_header():
    with pytest.raises(LayoutError, match="matches no known layout"):
        match_header("a,b,c", "f.csv")


def test_snake_case():
    assert [snake_case(c) for c in ("InvoiceNo", "Customer ID", "AcceptedCmp3", "Z_CostContact")] == [
        "invoice_no",
        "customer_id",
        "accepted_cmp3",
        "z_cost_contact",
    ]
