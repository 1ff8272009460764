"""Moving pandas DataFrames into tables with COPY (never row-by-row inserts), and query results
out of them."""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from include.db.watch import watched

log = logging.getLogger(__name__)

# pyarrow is installed for the COPY writer, and with it pandas 3 would back every str column
# with Arrow; the steps hand product ids to numpy (object arrays) and back all the time, which
# made recommend_products.evaluate about 5 % slower on Online Retail (A/B of the evaluate step,
# twice each: 18.7 / 17.8 s with Python strings, 19.6 / 18.8 s with Arrow's). The frames read from
# the warehouse keep Python strings.
pd.set_option("mode.string_storage", "python")


def copy_dataframe(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    constants: dict[str, object] | None = None,
) -> int:
    """COPY `frame[columns]` (plus constant columns such as run_id) into schema.table.

    Missing values (None/NaN/NaT) become NULL. The CSV is written by Arrow (about ten times
    faster than pandas for numbers); columns Arrow cannot convert (mixed Python objects) go
    through pandas' writer instead, with the same result. Returns the number of rows copied.
    """
    columns = list(columns or frame.columns)
    data = frame[columns].copy()
    for name, value in (constants or {}).items():
        data[name] = value
    names = list(data.columns)
    payload, null = _csv(data)
    statement = sql.SQL("copy {} ({}) from stdin with (format csv, null {})").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(sql.Identifier(c) for c in names), sql.Literal(null)
    )
    with (
        watched(conn, f"copy of {len(data):,} rows into {schema}.{table}"),
        conn.cursor().copy(statement) as copy,
    ):
        copy.write(payload)
    return len(data)


def _csv(data: pd.DataFrame) -> tuple[bytes | str, str]:
    """The frame as headerless CSV for COPY, and the NULL marker it uses. Arrow quotes every
    string and writes a missing value as an unquoted empty field (COPY's CSV NULL), so an empty
    string stays an empty string."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pa.Table.from_pandas(data, preserve_index=False)
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        return buf.getvalue(), ""
    except (pa.ArrowException, TypeError, ValueError) as error:
        log.debug("COPY payload through pandas (%s)", error)
    buf = io.StringIO()
    data.to_csv(buf, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S")
    return buf.getvalue(), "\\N"


def copy_out(
    conn: psycopg.Connection, query: str, dtypes: Mapping[str, object] | None = None
) -> pd.DataFrame:
    """A query's rows through COPY (...) TO STDOUT (CSV), far faster than fetching tuples.
    Columns are text unless `dtypes` types them (parsed in C: numpy dtypes, "category" for
    codes over the distinct values, or "date" and "timestamp" for datetime64); a typed column
    must hold no NULL. `query` is a fixed statement (values go in no SQL text)."""
    buf = io.BytesIO()
    statement = sql.SQL("copy ({}) to stdout with (format csv, header true)").format(sql.SQL(query))
    with watched(conn, f"copy out of ({_short(query)})"), conn.cursor().copy(statement) as copy:
        for block in copy:
            buf.write(block)
    buf.seek(0)
    dtypes = dict(dtypes or {})
    dates = [name for name, kind in dtypes.items() if kind in ("date", "timestamp")]
    parsed = {name: kind for name, kind in dtypes.items() if name not in dates}
    if "category" in parsed.values():
        frame = _read_with_categories(buf, parsed)
    else:
        frame = pd.read_csv(buf, dtype=defaultdict(lambda: str, parsed), keep_default_na=False)
    for name in dates:
        frame[name] = pd.to_datetime(frame[name], format="ISO8601")
    return frame


def _short(query: str, width: int = 80) -> str:
    text = " ".join(query.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _read_with_categories(buf: io.BytesIO, parsed: Mapping[str, object]) -> pd.DataFrame:
    """The CSV read by Arrow, "category" columns dictionary-encoded as they are parsed (codes and
    the distinct strings, no Python string per row), other columns text or their numpy type.
    pandas' own "category" parse turns numeric-looking values into numbers ("01" -> 1)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = next(csv.reader([buf.readline().decode()]))
    buf.seek(0)

    def arrow_type(kind: object | None) -> pa.DataType:
        if kind is None:
            return pa.string()
        if kind == "category":
            return pa.dictionary(pa.int32(), pa.string())
        return pa.from_numpy_dtype(np.dtype(kind))

    types = {name: arrow_type(parsed.get(name)) for name in names}
    options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=False)
    return pacsv.read_csv(buf, convert_options=options).to_pandas()


def read_frame(conn: psycopg.Connection, query: str | sql.Composable, params=None) -> pd.DataFrame:
    """A (small) query's rows as a DataFrame with the query's column names and Python values."""
    cur = conn.execute(query, params)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
