"""Tableau artefacts for the marts: a live-connection data source (.tds) through the read-only
role, and a Hyper extract for users without a live connection (`make docs` rewrites
docs/tableau/marts.tds; `python -m tools.cli hyper OUT` exports the marts to OUT.hyper)."""

from __future__ import annotations

import logging
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import psycopg
from psycopg import sql

from include.publish.catalog import Mart, marts

log = logging.getLogger(__name__)

TDS_TYPES = {"integer": "integer", "bigint": "integer", "smallint": "integer", "boolean": "boolean",
             "date": "date", "text": "string"}  # fmt: skip


def _tds_type(pg_type: str) -> str:
    if pg_type.startswith(("numeric", "double", "real")):
        return "real"
    if pg_type.startswith("timestamp"):
        return "datetime"
    return TDS_TYPES.get(pg_type, "string")


def render_tds(relations: list[Mart], host: str, port: int, database: str, user: str) -> str:
    """A Tableau data source with one logical table per marts relation (relationships model)."""
    root = ET.Element(
        "datasource", {"formatted-name": "ecommerce marts", "inline": "true", "version": "18.1"}
    )
    conn = ET.SubElement(root, "connection", {"class": "federated"})
    named = ET.SubElement(conn, "named-connections")
    nc = ET.SubElement(named, "named-connection", {"caption": f"{host}", "name": "postgres.marts"})
    ET.SubElement(nc, "connection", {
        "class": "postgres", "server": host, "port": str(port), "dbname": database, "username": user,
        "authentication": "username-password", "sslmode": "", "one-time-sql": "",
    })  # fmt: skip
    collection = ET.SubElement(conn, "relation", {"type": "collection"})
    for mart in relations:
        ET.SubElement(collection, "relation", {
            "connection": "postgres.marts", "name": mart.name, "table": f"[marts].[{mart.name}]", "type": "table",
        })  # fmt: skip
    records = ET.SubElement(conn, "metadata-records")
    for mart in relations:
        for col in mart.columns:
            rec = ET.SubElement(records, "metadata-record", {"class": "column"})
            ET.SubElement(rec, "remote-name").text = col.name
            ET.SubElement(rec, "local-name").text = f"[{col.name} ({mart.name})]"
            ET.SubElement(rec, "parent-name").text = f"[{mart.name}]"
            ET.SubElement(rec, "local-type").text = _tds_type(col.data_type)
    ET.indent(root)
    return "<?xml version='1.0' encoding='utf-8' ?>\n" + ET.tostring(root, encoding="unicode") + "\n"


def tds_relations(tds_text: str) -> dict[str, set[str]]:
    """relation -> column names named in a .tds (what the test checks against the database)."""
    root = ET.fromstring(tds_text)
    names: dict[str, set[str]] = {}
    for rel in root.iter("relation"):
        if rel.get("type") == "table":
            names.setdefault(rel.get("name"), set())
    for rec in root.iter("metadata-record"):
        parent = rec.findtext("parent-name", "").strip("[]")
        names.setdefault(parent, set()).add(rec.findtext("remote-name"))
    return names


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
