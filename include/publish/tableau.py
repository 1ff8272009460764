"""The Tableau Hyper extract of the marts, for users without a live connection: publish_marts
writes it under the run's folder; `python -m tools.cli hyper OUT` exports the marts to OUT.hyper.
The live-connection data sources (.tds) are local tooling: tools/tableau_tds.py."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from include.publish.catalog import marts

log = logging.getLogger(__name__)


HYPER_TYPES = {"integer": "int", "bigint": "big_int", "smallint": "small_int", "boolean": "bool",
               "date": "date", "text": "text"}  # fmt: skip


def _hyper_type(pg_type: str):
    from tableauhyperapi import SqlType

    if pg_type.startswith(("numeric", "double", "real")):
        return SqlType.double()
    if pg_type.startswith("timestamp"):
        return SqlType.timestamp()
    return getattr(SqlType, HYPER_TYPES.get(pg_type, "text"))()


def export_hyper(conn: psycopg.Connection, out: Path) -> dict[str, int]:
    """Every marts relation into `out` (schema Extract), moved as CSV with COPY on both sides."""
    from tableauhyperapi import Connection, CreateMode, HyperProcess, TableDefinition, TableName, Telemetry
    from tableauhyperapi import escape_string_literal as lit

    started, counts = time.monotonic(), {}
    out.parent.mkdir(parents=True, exist_ok=True)
    relations = marts(conn)
    with (
        tempfile.TemporaryDirectory() as tmp,
        HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": tmp}) as hyper,
        Connection(hyper.endpoint, str(out), CreateMode.CREATE_AND_REPLACE) as hconn,
    ):
        hconn.catalog.create_schema("Extract")
        for mart in relations:
            csv_path = Path(tmp) / f"{mart.name}.csv"
            query = sql.SQL("copy (select {} from {}) to stdout with (format csv, header)").format(
                sql.SQL(", ").join(sql.Identifier(c.name) for c in mart.columns),
                sql.Identifier("marts", mart.name),
            )
            with csv_path.open("wb") as fh, conn.cursor().copy(query) as copy:
                for chunk in copy:
                    fh.write(chunk)
            table = TableDefinition(
                TableName("Extract", mart.name),
                [TableDefinition.Column(c.name, _hyper_type(c.data_type)) for c in mart.columns],
            )
            hconn.catalog.create_table(table)
            counts[mart.name] = hconn.execute_command(
                f"copy {table.table_name} from {lit(str(csv_path))} with (format csv, header)"
            )
    log.info("Hyper extract %s: %s in %.1f s", out, counts, time.monotonic() - started)
    return counts
