"""Great Expectations suites as Python objects: one per layout and stage.

Each expectation carries `meta={"severity": "hard" | "soft"}`. A failed hard expectation fails
the task; a failed soft one is a warning (the cleaning step then rejects the rows concerned,
each with its reason). Soft expectations on raw text use `mostly`, so a handful of odd lines
does not stop a file.
"""

from __future__ import annotations

from dataclasses import dataclass

import great_expectations as gx
import great_expectations.expectations as gxe

from include.ingest.layouts import LAYOUTS, Layout

HARD = {"severity": "hard"}
SOFT = {"severity": "soft"}
INTEGER = r"^\s*-?[0-9]+\s*$"
DECIMAL = r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"
INVOICE = r"^C?[0-9]{6,7}$"
STOCK_CODE = r"^([0-9]{5}[A-Za-z0-9]{0,4}|[A-Za-z][A-Za-z0-9_ ]*)$"
DATE_PATTERNS = {
    "online_retail": r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4} [0-9]{1,2}:[0-9]{2}$",
    "online_retail_ii": r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?$",
}


@dataclass(frozen=True)
class SuiteTarget:
    """A suite and the table it validates (raw tables are validated one load at a time)."""

    suite: gx.ExpectationSuite
    schema: str
    table: str
    by_load: bool


def _columns_exist(layout: Layout) -> list:
    return [gxe.ExpectColumnToExist(column=c, meta=HARD) for c in layout.raw_columns]


def raw_transactions_suite(layout: Layout) -> gx.ExpectationSuite:
    """Raw Online Retail (I or II) text: columns, row count, types, patterns, dates."""
    invoice, price = layout.raw_columns[0], layout.raw_columns[5]
    customer = layout.raw_columns[6]
    suite = gx.ExpectationSuite(name=f"raw_{layout.name}")
    for expectation in [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=HARD),
        *_columns_exist(layout),
        gxe.ExpectColumnValuesToNotBeNull(column=invoice, mostly=0.999, meta=SOFT),
        gxe.ExpectColumnValuesToMatchRegex(column=invoice, regex=INVOICE, mostly=0.99, meta=SOFT),
        gxe.ExpectColumnValuesToMatchRegex(column="stock_code", regex=STOCK_CODE, mostly=0.99, meta=SOFT),
        gxe.ExpectColumnValuesToMatchRegex(column="quantity", regex=INTEGER, mostly=0.999, meta=SOFT),
        gxe.ExpectColumnValuesToMatchRegex(column=price, regex=DECIMAL, mostly=0.999, meta=SOFT),
        gxe.ExpectColumnValuesToMatchRegex(
            column=customer, regex=r"^[0-9]+(\.0+)?$", mostly=0.999, meta=SOFT
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="invoice_date", regex=DATE_PATTERNS[layout.name], mostly=0.999, meta=SOFT
        ),
        gxe.UnexpectedRowsExpectation(
            description="invoice dates parse and lie inside the extract's range (2000-01-01 .. load time)",
            unexpected_rows_query=(
                "select load_id, source_line_number, invoice_date from {batch}"
                " where case when pg_input_is_valid(invoice_date, 'timestamp')"
                " then invoice_date::timestamp not between '2000-01-01'"
                " and (select max(started_at) from audit.ingest_runs) else true end"
            ),
            meta=SOFT,
        ),
    ]:
        suite.add_expectation(expectation)
    return suite


def raw_profiles_suite(layout: Layout) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=f"raw_{layout.name}")
    for expectation in [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=HARD),
        *_columns_exist(layout),
        gxe.ExpectColumnValuesToMatchRegex(column="id", regex=INTEGER, meta=SOFT),
        gxe.ExpectColumnValuesToMatchRegex(
            column="year_birth", regex=r"^(19|20)[0-9]{2}$", mostly=0.99, meta=SOFT
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="dt_customer", regex=r"^[0-9]{2}-[0-9]{2}-[0-9]{4}$", mostly=0.999, meta=SOFT
        ),
        gxe.ExpectColumnValuesToMatchRegex(column="income", regex=DECIMAL, mostly=0.95, meta=SOFT),
    ]:
        suite.add_expectation(expectation)
    return suite


def _references(what: str, table: str, key: str):
    """Hard: every `key` of the batch has a row in `table` (referential integrity); the unexpected
    rows are those whose key has none (a NULL key is not checked). GX substitutes {batch} with
    an aliased subquery: columns stay unqualified, and `using` merges the key.

    An anti-join (left join, no match), not `not in (select ...)`: PostgreSQL hashes a NOT IN
    subquery only while it fits in work_mem, and else rescans it for every row (433,000
    customers x 54 M lines at 100x never finished). `table`'s key is its primary key, so the
    join adds no rows."""
    return gxe.UnexpectedRowsExpectation(
        description=f"every {what} exists in {table}",
        unexpected_rows_query=(
            f"select source_line_number, {key} from {{batch}} left join {table} as referenced using ({key})"
            f" where {key} is not null and referenced.{key} is null"
        ),
        meta=HARD,
    )


def _unique_line_key():
    """Hard: (load_id, source_line_number) names one line. GX's own compound-unique metric joins
    the whole table back to its group counts (the staging_order_lines suite: 240 s with it,
    149 s with this, on 52.7M lines at 100x); one aggregate gives the same unexpected keys."""
    return gxe.UnexpectedRowsExpectation(
        description="(load_id, source_line_number) is unique",
        unexpected_rows_query=(
            "select load_id, source_line_number, count(*) as copies from {batch}"
            " group by load_id, source_line_number having count(*) > 1"
        ),
        meta=HARD,
    )


def staging_transactions_suites() -> list[SuiteTarget]:
    """Clean order lines, returns, products, customers: keys, ranges, references."""
    lines = gx.ExpectationSuite(name="staging_order_lines")
    for expectation in [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=HARD),
        _unique_line_key(),
        gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=1, meta=HARD),
        gxe.ExpectColumnValuesToBeBetween(column="unit_price", min_value=0, strict_min=True, meta=HARD),
        gxe.ExpectColumnValuesToNotBeNull(column="invoiced_at", meta=HARD),
        gxe.UnexpectedRowsExpectation(
            description="a customer id is present on every non-guest line",
            unexpected_rows_query="select source_line_number from {batch} where not is_guest and customer_id is null",
            meta=HARD,
        ),
        _references("product referenced", "staging.products", "product_id"),
        _references("customer referenced", "staging.customers", "customer_id"),
    ]:
        lines.add_expectation(expectation)
    returns = gx.ExpectationSuite(name="staging_returns")
    for expectation in [
        _unique_line_key(),
        gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=1, meta=HARD),
        gxe.ExpectColumnValuesToMatchRegex(column="invoice_no", regex="^C", meta=HARD),
        _references("product returned", "staging.products", "product_id"),
    ]:
        returns.add_expectation(expectation)
    products = gx.ExpectationSuite(name="staging_products")
    for expectation in [
        gxe.ExpectColumnValuesToBeUnique(column="product_id", meta=HARD),
        gxe.ExpectColumnValuesToNotBeNull(column="description", meta=HARD),
    ]:
        products.add_expectation(expectation)
    customers = gx.ExpectationSuite(name="staging_customers")
    for expectation in [
        gxe.ExpectColumnValuesToBeUnique(column="customer_id", meta=HARD),
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id", meta=HARD),
    ]:
        customers.add_expectation(expectation)
    return [
        SuiteTarget(lines, "staging", "order_lines", False),
        SuiteTarget(returns, "staging", "returns", False),
        SuiteTarget(products, "staging", "products", False),
        SuiteTarget(customers, "staging", "customers", False),
    ]


def staging_profiles_suites() -> list[SuiteTarget]:
    profiles = gx.ExpectationSuite(name="staging_customer_profiles")
    for expectation in [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=HARD),
        gxe.ExpectColumnValuesToBeUnique(column="customer_id", meta=HARD),
        gxe.ExpectColumnValuesToBeBetween(column="birth_year", min_value=1900, meta=HARD),
        gxe.ExpectColumnValuesToBeBetween(column="income", min_value=0, meta=HARD),
        gxe.ExpectColumnValuesToNotBeNull(column="income", mostly=0.95, meta=SOFT),
    ]:
        profiles.add_expectation(expectation)
    return [SuiteTarget(profiles, "staging", "customer_profiles", False)]


def raw_suite(layout_name: str) -> SuiteTarget:
    layout = LAYOUTS[layout_name]
    build = raw_profiles_suite if layout_name == "customer_personality" else raw_transactions_suite
    return SuiteTarget(build(layout), "raw", layout.raw_table, True)


def staging_suites(layout_name: str) -> list[SuiteTarget]:
    if layout_name == "customer_personality":
        return staging_profiles_suites()
    return staging_transactions_suites()
