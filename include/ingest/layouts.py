"""The source layouts the pipeline understands, and detecting one from a file's header."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    name: str
    kaggle_slug: str
    file_name: str  # the CSV inside the Kaggle download
    source_columns: tuple[str, ...]  # header names, in file order
    raw_table: str  # table in schema `raw`, as landed: include.db.schema.raw_table_ddl creates it
    delimiter: str
    encoding: str  # Python codec of the file
    pg_encoding: str  # the same, as PostgreSQL's COPY ENCODING names it
    date_example: str

    @property
    def raw_columns(self) -> tuple[str, ...]:
        return tuple(snake_case(c) for c in self.source_columns)


def snake_case(name: str) -> str:
    """'InvoiceNo' -> 'invoice_no', 'Customer ID' -> 'customer_id', 'AcceptedCmp3' -> 'accepted_cmp3'."""
    name = re.sub(r"[^0-9A-Za-z]+", "_", name.strip())
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return name.strip("_").lower()


ONLINE_RETAIL = Layout(
    name="online_retail",
    kaggle_slug="carrie1/ecommerce-data",
    file_name="data.csv",
    source_columns=(
        "InvoiceNo",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
    ),
    raw_table="online_retail_lines",
    delimiter=",",
    encoding="iso-8859-1",
    pg_encoding="LATIN1",
    date_example="12/1/2010 8:26",
)

ONLINE_RETAIL_II = Layout(
    name="online_retail_ii",
    kaggle_slug="mashlyn/online-retail-ii-uci",
    file_name="online_retail_II.csv",
    source_columns=(
        "Invoice",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "Price",
        "Customer ID",
        "Country",
    ),
    raw_table="online_retail_ii_lines",
    delimiter=",",
    encoding="utf-8",
    pg_encoding="UTF8",
    date_example="2009-12-01 07:45:00",
)

CUSTOMER_PERSONALITY = Layout(
    name="customer_personality",
    kaggle_slug="imakash3011/customer-personality-analysis",
    file_name="marketing_campaign.csv",
    source_columns=tuple(
        "ID Year_Birth Education Marital_Status Income Kidhome Teenhome Dt_Customer Recency "
        "MntWines MntFruits MntMeatProducts MntFishProducts MntSweetProducts MntGoldProds "
        "NumDealsPurchases NumWebPurchases NumCatalogPurchases NumStorePurchases "
        "NumWebVisitsMonth AcceptedCmp3 AcceptedCmp4 AcceptedCmp5 AcceptedCmp1 AcceptedCmp2 "
        "Complain Z_CostContact Z_Revenue Response".split()
    ),
    raw_table="customer_personality_rows",
    delimiter="\t",
    encoding="utf-8",
    pg_encoding="UTF8",
    date_example="04-09-2012",
)

LAYOUTS: dict[str, Layout] = {
    layout.name: layout for layout in (ONLINE_RETAIL, ONLINE_RETAIL_II, CUSTOMER_PERSONALITY)
}
LAYOUT_NAMES = tuple(LAYOUTS)
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


class LayoutError(ValueError):
    """The file's header does not fit the layout asked for (or any layout)."""


@dataclass(frozen=True)
class HeaderMatch:
    layout: Layout
    columns: tuple[str, ...]  # the header as found, in file order
    extra_columns: tuple[str, ...]  # present in the file, unknown to the layout

    @property
    def is_exact(self) -> bool:
        return self.columns == self.layout.source_columns


def _split(header_line: str, delimiter: str) -> list[str]:
    return [c.strip().strip('"').strip() for c in header_line.split(delimiter)]


def _score(names: set[str], layout: Layout) -> int:
    return len(names & {snake_case(c) for c in layout.source_columns})


def match_header(header_line: str, file_label: str, wanted: str | None = None) -> HeaderMatch:
    """Find the layout of a file from its first line.

    `wanted` is a layout name (or None/'auto' to detect). Raises LayoutError naming the file
    and what is wrong: the layout the header looks like, the delimiter, the missing columns.
    """
    header_line = header_line.lstrip("\ufeff").rstrip("\r\n")
    if wanted in (None, "", "auto"):
        candidates = list(LAYOUTS.values())
    elif wanted in LAYOUTS:
        candidates = [LAYOUTS[wanted]]
    else:
        raise LayoutError(f"unknown layout {wanted!r}; choose one of {', '.join(LAYOUT_NAMES)}")

    # Best guess over all layouts and delimiters, to name what the file looks like.
    best: tuple[int, Layout, str] | None = None
    for layout in LAYOUTS.values():
        for delim in DELIMITER_NAMES:
            names = {snake_case(c) for c in _split(header_line, delim)}
            score = _score(names, layout)
            if best is None or score > best[0]:
                best = (score, layout, delim)
    assert best is not None
    best_score, best_layout, best_delim = best

    for layout in candidates:
        columns = tuple(_split(header_line, layout.delimiter))
        by_key = {snake_case(c): c for c in columns}
        missing = [c for c in layout.source_columns if snake_case(c) not in by_key]
        if not missing:
            known = {snake_case(c) for c in layout.source_columns}
            extra = tuple(c for c in columns if snake_case(c) not in known)
            return HeaderMatch(layout, columns, extra)

    if best_score == 0:
        raise LayoutError(
            f"{file_label}: the header {header_line[:120]!r} matches no known layout "
            f"({', '.join(LAYOUT_NAMES)})"
        )
    target = candidates[0] if len(candidates) == 1 else best_layout
    if best_layout is not target and best_score >= len(best_layout.source_columns) // 2:
        raise LayoutError(
            f"{file_label}: the header looks like layout {best_layout.name!r}, "
            f"not {target.name!r} (pass layout={best_layout.name!r} or check the file)"
        )
    if best_delim != target.delimiter and best_layout is target:
        raise LayoutError(
            f"{file_label}: the header is {DELIMITER_NAMES[best_delim]}-separated, but layout "
            f"{target.name!r} is {DELIMITER_NAMES[target.delimiter]}-separated"
        )
    columns = _split(header_line, target.delimiter)
    keys = {snake_case(c) for c in columns}
    missing = [c for c in target.source_columns if snake_case(c) not in keys]
    raise LayoutError(
        f"{file_label}: missing required column(s) {', '.join(missing)} for layout "
        f"{target.name!r} (header: {', '.join(columns)})"
    )
