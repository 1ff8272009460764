"""Product pairs counted by one sparse product, checked against a hand count."""

from __future__ import annotations

import pandas as pd
import pytest

from include.ml import pairs

pytestmark = pytest.mark.unit


def test_pairs_support_confidence_and_lift_by_hand():
    # 4 invoices: {a, b}, {a, b, c}, {a, c}, {d}; min support 0.5 (2 invoices):
    # a in 3, b in 2, c in 2, d in 1 (not frequent); pairs: a-b 2, a-c 2, b-c 1 (below)
    lines = pd.DataFrame(
        [
            ("1", "a"),
            ("1", "b"),
            ("1", "b"),
            ("2", "a"),
            ("2", "b"),
            ("2", "c"),
            ("3", "a"),
            ("3", "c"),
            ("4", "d"),
        ],
        columns=["invoice_no", "product_id"],
    )
    got = pairs.product_pairs(lines["invoice_no"], lines["product_id"], 0.5).set_index(
        ["product_id", "other_product_id"]
    )
    assert sorted(got.index) == [("a", "b"), ("a", "c"), ("b", "a"), ("c", "a")]
    ab, ba = got.loc[("a", "b")], got.loc[("b", "a")]
    assert ab["invoices"] == 2 and ab["support"] == pytest.approx(0.5) and ab["total_invoices"] == 4
    assert ab["confidence"] == pytest.approx(2 / 3) and ba["confidence"] == pytest.approx(1.0)
    assert ab["lift"] == pytest.approx(2 * 4 / (3 * 2)) == ba["lift"]
    assert ab["product_invoices"] == 3 and ab["other_product_invoices"] == 2
    assert list(got.reset_index().columns) == pairs.COLUMNS
