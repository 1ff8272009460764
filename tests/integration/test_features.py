"""Feature SQL on a tiny hand-made staging set in the real warehouse (expected values worked out
by hand)."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest
from psycopg import sql

from include.ml import features as F

pytestmark = pytest.mark.integration

LINES = """
insert into staging.order_lines (load_id, source_line_number, invoice_no, product_id, customer_id,
    is_guest, country, quantity, unit_price, line_amount, invoiced_at) values
 (999, 2, 'A1', 'P1', 1, false, 'United Kingdom', 2, 5, 10, '2011-01-01 10:00'),
 (999, 3, 'A1', 'P2', 1, false, 'United Kingdom', 1, 20, 20, '2011-01-01 10:00'),
 (999, 4, 'A2', 'P1', 1, false, 'United Kingdom', 4, 5, 20, '2011-01-05 12:00'),
 (999, 5, 'B1', 'P3', 2, false, 'France', 1, 8, 8, '2011-01-10 09:00'),
 (999, 6, 'D1', 'P3', 3, false, 'Germany', 1, 8, 8, '2011-01-11 09:00'),
 (999, 7, 'G1', 'P3', null, true, 'United Kingdom', 5, 8, 40, '2011-01-03 09:00');
insert into staging.returns (load_id, source_line_number, invoice_no, product_id, customer_id,
    is_guest, country, quantity, unit_price, line_amount, invoiced_at) values
 (999, 8, 'C1', 'P1', 1, false, 'United Kingdom', 1, 5, 5, '2011-01-06 10:00'),
 (999, 9, 'C2', 'P1', 4, false, 'Spain', 1, 5, 5, '2011-01-06 10:00'),
 (999, 10, 'C3', 'P3', 2, false, 'France', 1, 8, 8, '2011-01-12 10:00');
insert into staging.customers (load_id, customer_id, country, first_invoice_at, last_invoice_at) values
 (999, 1, 'United Kingdom', '2011-01-01 10:00', '2011-01-06 10:00'),
 (999, 2, 'France', '2011-01-10 09:00', '2011-01-12 10:00'),
 (999, 3, 'Germany', '2011-01-11 09:00', '2011-01-11 09:00'),
 (999, 4, 'Spain', '2011-01-06 10:00', '2011-01-06 10:00');
"""


@pytest.fixture
def staged(db):
    """The hand-made staging rows inside a transaction that is always rolled back."""
    with db.transaction(force_rollback=True):
        for table in ("order_lines", "returns", "customers", "customer_profiles"):
            db.execute(sql.SQL("delete from {}").format(sql.Identifier("staging", table)))
        db.execute(LINES)
        yield db


def _features(conn, spec, as_of) -> pd.DataFrame:
    F.write_features(conn, spec, "unit-test", as_of)
    return F.load_features(conn, spec, "unit-test").set_index("customer_id")


def test_customer_features_hand_worked(staged):
    assert F.default_as_of_date(staged, F.TRANSACTIONS) == date(2011, 1, 12)  # day after the last sale
    got = _features(staged, F.TRANSACTIONS, date(2011, 1, 11))
    # customer 3 bought on the as-of date (not before), customer 4 only returned, guests excluded
    assert list(got.index) == [1, 2]
    one = got.loc[1]
    # invoices A1 (10 + 20) on 1 Jan and A2 (20) on 5 Jan; return C1 (5) on 6 Jan
    assert one["frequency"] == 2 and one["gross_revenue"] == 50 and one["returns_amount"] == 5
    assert one["monetary"] == 45  # net of returns
    assert one["recency_days"] == 6  # 11 Jan - 5 Jan
    assert one["tenure_days"] == 10  # 11 Jan - 1 Jan
    assert one["avg_basket_value"] == 25  # 50 / 2 invoices
    assert one["distinct_products"] == 2 and one["units"] == 7
    assert one["return_rate"] == pytest.approx(0.1)  # 5 / 50
    assert one["avg_days_between_orders"] == pytest.approx(4.08)  # 4 days 2 hours / 1 gap
    assert one["country"] == "United Kingdom"
    two = got.loc[2]
    # one invoice the day before; its return on 12 Jan is after the as-of date
    assert (two["frequency"], two["monetary"], two["recency_days"], two["tenure_days"]) == (1, 8, 1, 1)
    assert two["return_rate"] == 0 and math.isnan(two["avg_days_between_orders"])
    assert (got["as_of_date"] == date(2011, 1, 11)).all()


def test_features_are_replaced_on_rerun(staged):
    F.write_features(staged, F.TRANSACTIONS, "unit-test", date(2011, 1, 11))
    F.write_features(staged, F.TRANSACTIONS, "unit-test", date(2011, 1, 11))
    count = staged.execute("select count(*) from ml.customer_features where run_id = 'unit-test'").fetchone()[
        0
    ]
    assert count == 2


def test_profile_features_hand_worked(staged):
    staged.execute(
        """
        insert into staging.customer_profiles values
         (999, 2, 11, 1970, 'PhD', 'Married', 60000, 1, 0, '2013-01-10', 20, 100, 10, 50, 5, 5, 30,
          2, 4, 1, 6, 5, 2, false, true),
         (999, 3, 12, 1990, 'Basic', 'Single', null, 0, 1, '2014-08-01', 3, 1, 1, 1, 1, 1, 1,
          1, 1, 0, 1, 9, 0, false, false)
        """
    )
    assert F.default_as_of_date(staged, F.PROFILES) == date(2014, 8, 2)
    got = _features(staged, F.PROFILES, date(2014, 7, 1))
    assert list(got.index) == [11]  # 12 enrolled after the as-of date
    row = got.loc[11]
    assert row["age"] == 44  # 2014 - 1970
    assert row["tenure_days"] == 537  # 2013-01-10 .. 2014-07-01
    assert row["total_spend"] == 200  # 100 + 10 + 50 + 5 + 5 + 30
    assert row["total_purchases"] == 11  # web 4 + catalog 1 + store 6 (deals are a subset)
    assert row["accepted_campaigns"] == 2 and bool(row["has_responded"]) is True
    assert row["household"] == 1  # kids 1 + teens 0
