"""The data-quality history row of one expectation result, from GX result objects built by hand."""

from __future__ import annotations

import pytest
from great_expectations.core import ExpectationValidationResult
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from include.quality.validate import result_row

pytestmark = pytest.mark.unit


def _result(type_: str, kwargs: dict, success: bool, result: dict, meta=None, exception_info=None):
    config = ExpectationConfiguration(type=type_, kwargs=kwargs, meta=meta or {"severity": "soft"})
    return ExpectationValidationResult(
        success=success, expectation_config=config, result=result, exception_info=exception_info
    )


def test_a_failed_column_expectation_keeps_its_counts_and_kwargs():
    # 10 of 410 invoice numbers break the pattern: 2.439 % unexpected
    result = _result(
        "expect_column_values_to_match_regex",
        {"column": "invoice_no", "regex": "^C?[0-9]{6,7}$", "mostly": 0.99, "batch_id": "b1"},
        False,
        {"element_count": 410, "unexpected_count": 10, "unexpected_percent": 2.4390243902439024},
    )
    row = result_row(result, 3, "raw_online_retail", "raw", "raw.online_retail_lines")
    assert row["column_name"] == "invoice_no" and row["success"] is False
    assert (row["element_count"], row["unexpected_count"], row["unexpected_percent"]) == (410, 10, 2.439)
    assert row["severity"] == "soft" and row["expectation_index"] == 3
    assert '"batch_id"' not in row["expectation_kwargs"] and '"mostly": 0.99' in row["expectation_kwargs"]


def test_unexpected_rows_count_the_rows_the_query_returned():
    result = _result(
        "unexpected_rows_expectation",
        {"unexpected_rows_query": "select 1 from {batch}"},
        False,
        {"observed_value": 7},
        meta={"severity": "hard"},
    )
    row = result_row(result, 1, "staging_order_lines", "staging", "staging.order_lines")
    assert (row["unexpected_count"], row["observed_value"], row["severity"]) == (7, "7", "hard")
    assert row["column_name"] is None


def test_compound_columns_and_errors():
    result = _result(
        "expect_compound_columns_to_be_unique",
        {"column_list": ["load_id", "source_line_number"]},
        False,
        {},
        exception_info={"raised_exception": True, "exception_message": "column source_line_number missing"},
    )
    row = result_row(result, 2, "staging_returns", "staging", "staging.returns")
    assert row["column_name"] == "load_id, source_line_number"
    assert row["exception_message"] == "column source_line_number missing"
