"""What the marts are, read from the database itself: views, columns, types and comments.
The data dictionary, the Tableau data source and the Hyper extract are all built from this."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    comment: str


@dataclass(frozen=True)
class Mart:
    name: str
    comment: str
    columns: tuple[Column, ...]


def marts(conn: psycopg.Connection) -> list[Mart]:
    """Every relation in schema marts, in name order, with its columns in ordinal order."""
    relations = conn.execute(
        "select c.oid, c.relname, coalesce(obj_description(c.oid, 'pg_class'), '')"
        "  from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'marts' and c.relkind in ('r', 'v', 'm', 'p')"
        " order by c.relname"
    ).fetchall()
    result = []
    for oid, name, comment in relations:
        cols = conn.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod), coalesce(col_description(a.attrelid, a.attnum), '')"
            "  from pg_attribute a where a.attrelid = %s and a.attnum > 0 and not a.attisdropped"
            " order by a.attnum",
            (oid,),
        ).fetchall()
        result.append(Mart(name, comment, tuple(Column(*c) for c in cols)))
    return result
