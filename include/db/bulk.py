"""Moving pandas DataFrames into tables with COPY (never row-by-row inserts), and query results
out of them."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
import psycopg
from psycopg import sql


def copy_dataframe(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    constants: dict[str, object] | None = None,
) -> int:
    """COPY `frame[columns]` (plus constant columns such as run_id) into schema.table.

    Missing values (None/NaN/NaT) become NULL. Returns the number of rows copied.
    """
    columns = list(columns or frame.columns)
    data = frame[columns].copy()
    for name, value in (constants or {}).items():
        data[name] = value
    names = list(data.columns)
    buf = io.StringIO()
    data.to_csv(buf, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S")
    statement = sql.SQL("copy {} ({}) from stdin with (format csv, null '\\N')").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(sql.Identifier(c) for c in names)
    )
    with conn.cursor().copy(statement) as copy:
        copy.write(buf.getvalue())
    return len(data)


def copy_out(conn: psycopg.Connection, query: str) -> pd.DataFrame:
    """A query's rows as text columns through COPY (...) TO STDOUT (CSV), far faster than
    fetching tuples; the caller casts. `query` is a fixed statement (values go in no SQL text)."""
    buf = io.BytesIO()
    statement = sql.SQL("copy ({}) to stdout with (format csv, header true)").format(sql.SQL(query))
    with conn.cursor().copy(statement) as copy:
        for block in copy:
            buf.write(block)
    buf.seek(0)
    return pd.read_csv(buf, dtype=str, keep_default_na=False)


def read_frame(conn: psycopg.Connection, query: str | sql.Composable, params=None) -> pd.DataFrame:
    """A (small) query's rows as a DataFrame with the query's column names and Python values."""
    cur = conn.execute(query, params)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
