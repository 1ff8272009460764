"""COPY in and out of the real warehouse: every kind of value a stage writes arrives as it left,
through the Arrow writer and through the pandas fallback alike."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pandas as pd
import pytest

from include.db import bulk
from include.db.connection import connect

TABLE = (
    "create temp table copied (s text, i bigint, ni integer, f float8, b boolean, ts timestamp,"
    " tz timestamptz, d date, c text, n numeric(14, 2), o text, run_id text)"
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "s": ["a", "", None, 'q"uote,comma\nnew line'],
            "i": [1, -2, 3, 2**40],
            "ni": pd.array([1, None, 3, 4], dtype="Int64"),
            "f": [0.1, np.nan, 1e-300, 12345678.123456789],
            "b": [True, False, True, False],
            "ts": pd.to_datetime(
                ["2011-12-09 08:26:00", None, "2011-01-01 00:00:01", "2011-12-09 00:00:00"], format="ISO8601"
            ),
            "tz": pd.to_datetime(
                ["2011-12-09 08:26:00", None, "2011-01-01", "2011-12-09"], format="ISO8601"
            ).tz_localize("UTC"),
            "d": [dt.date(2011, 1, 1), None, dt.date(2011, 2, 1), dt.date(2011, 3, 1)],
            "c": pd.Categorical(["x", "y", None, "x"]),
            "n": [decimal.Decimal("1.23"), None, decimal.Decimal("4.5"), decimal.Decimal("0")],
            "o": ["{'a': 1}", None, "[1, 2]", "x"],
        }
    )


EXPECTED = [
    ("a", 1, 1, 0.1, True, dt.datetime(2011, 12, 9, 8, 26), dt.datetime(2011, 12, 9, 8, 26, tzinfo=dt.UTC),
     dt.date(2011, 1, 1), "x", decimal.Decimal("1.23"), "{'a': 1}", "r1"),
    ("", -2, None, None, False, None, None, None, "y", None, None, "r1"),
    (None, 3, 3, 1e-300, True, dt.datetime(2011, 1, 1, 0, 0, 1), dt.datetime(2011, 1, 1, tzinfo=dt.UTC),
     dt.date(2011, 2, 1), None, decimal.Decimal("4.50"), "[1, 2]", "r1"),
    ('q"uote,comma\nnew line', 2**40, 4, 12345678.123456789, False, dt.datetime(2011, 12, 9),
     dt.datetime(2011, 12, 9, tzinfo=dt.UTC), dt.date(2011, 3, 1), "x", decimal.Decimal("0.00"), "x", "r1"),
]  # fmt: skip


@pytest.mark.parametrize("mixed_objects", [False, True], ids=["arrow", "pandas-fallback"])
def test_copy_dataframe_keeps_every_value(mixed_objects):
    frame = _frame()
    if mixed_objects:  # a column Arrow cannot convert: the pandas writer takes the whole frame
        frame["o"] = [{"a": 1}, None, [1, 2], "x"]
    with connect() as conn:
        conn.execute(TABLE)
        assert bulk._csv(frame)[1] == ("\\N" if mixed_objects else "")
        assert bulk.copy_dataframe(conn, "pg_temp", "copied", frame, constants={"run_id": "r1"}) == 4
        rows = conn.execute("select * from copied order by i").fetchall()
    expected = sorted(EXPECTED, key=lambda row: row[1])
    assert [r[:10] + r[11:] for r in rows] == [e[:10] + e[11:] for e in expected]
    # the fallback writes the objects' str(); both keep NULL apart from the empty string
    assert [r[10] for r in rows] == [e[10] for e in expected]
    assert [r[0] for r in rows].count("") == 1 and [r[0] for r in rows].count(None) == 1


def test_copy_out_types_columns_in_c():
    with connect() as conn:
        frame = bulk.copy_out(
            conn,
            "select g as n, 'p' || g as label, date '2011-01-01' + g as day, '0' || (g % 2) as code"
            " from generate_series(1, 5) g",
            {"n": np.int64, "day": "date", "code": "category"},
        )
    assert frame["n"].dtype == np.int64 and frame["n"].tolist() == [1, 2, 3, 4, 5]
    # codes over the distinct text values; text stays text ("01", not 1)
    assert isinstance(frame["code"].dtype, pd.CategoricalDtype)
    assert frame["code"].astype(str).tolist() == ["01", "00", "01", "00", "01"]
    assert frame["label"].tolist() == ["p1", "p2", "p3", "p4", "p5"]
    assert frame["day"].iloc[-1] == pd.Timestamp("2011-01-06")
