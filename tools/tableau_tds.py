"""Tableau live-connection data sources (.tds, one per environment) for the marts, through the
read-only role: local tooling (`make docs` rewrites docs/tableau/marts.tds for the embedded server
and docs/tableau/marts_compose.tds for docker compose), never run in a worker; and the reader the
BI-contract tests check a .tds with.

The .tds uses Tableau's relationships model (2020.2+): every marts relation is a logical table,
related to the others by RELATIONSHIPS (the star schema's facts to their dimensions, and every
other mart to the dimension it describes), with captions and the database COMMENTs as field
descriptions. The Hyper extract for users without a live connection is include.publish.tableau
(publish_marts writes it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import psycopg

from include import config
from include.publish.catalog import Mart, marts

TDS_TYPES = {"integer": "integer", "bigint": "integer", "smallint": "integer", "boolean": "boolean",
             "date": "date", "text": "string"}  # fmt: skip


def _tds_type(pg_type: str) -> str:
    if pg_type.startswith(("numeric", "double", "real")):
        return "real"
    if pg_type.startswith("timestamp"):
        return "datetime"
    return TDS_TYPES.get(pg_type, "string")


# --- the logical model: relationships between the marts ---------------------------------------


@dataclass(frozen=True)
class Relationship:
    """A Tableau relationship (2020.2+ object model): `left.left_column = right.right_column`."""

    left: str
    left_column: str
    right: str
    right_column: str


# Tableau's logical layer is a tree of tables joined by relationships (no cycles, every table
# related), so each mart hangs off exactly one other. The star schema is its trunk: the sales
# fact with its three dimensions; returns share the product dimension (returns rate by product
# group); customer, product and run-level marts hang off the dimension they describe.
RELATIONSHIPS = (
    Relationship("fct_order_lines", "customer_id", "dim_customers", "customer_id"),
    Relationship("fct_order_lines", "product_id", "dim_products", "product_id"),
    Relationship("fct_order_lines", "date_key", "dim_dates", "date_key"),
    Relationship("fct_returns", "product_id", "dim_products", "product_id"),
    Relationship("dim_customers", "customer_id", "customer_segments", "customer_id"),
    Relationship("dim_customers", "customer_id", "customer_recommendations", "customer_id"),
    Relationship("dim_customers", "segment_id", "segment_profiles", "segment_id"),
    Relationship("segment_profiles", "segment_id", "segment_monthly_trends", "segment_id"),
    Relationship("segment_profiles", "segment_id", "segment_weekday_hour_sales", "segment_id"),
    Relationship("segment_profiles", "run_id", "segmentation_metrics", "run_id"),
    Relationship("dim_products", "product_id", "product_similarity", "product_id"),
    Relationship("dim_products", "product_id", "product_pairs", "product_id"),
    Relationship("customer_recommendations", "list_type", "recommendation_metrics", "list_type"),
    Relationship("segmentation_metrics", "run_id", "pipeline_runs", "segments_run_id"),
    Relationship("pipeline_runs", "load_id", "data_quality_runs", "load_id"),
    Relationship("segmentation_metrics", "k", "profile_segmentation_metrics", "k"),
    Relationship("profile_segmentation_metrics", "run_id", "profile_segment_profiles", "run_id"),
    Relationship("profile_segment_profiles", "segment_id", "profile_segments", "segment_id"),
)
ROOT = "fct_order_lines"


def check_tree(names: set[str], relationships: tuple[Relationship, ...] = RELATIONSHIPS) -> None:
    """Raise ValueError unless `relationships` join exactly the relations `names` into one tree
    (what Tableau's logical layer accepts): each relation reached once from ROOT."""
    named = {r.left for r in relationships} | {r.right for r in relationships}
    if unknown := sorted(named - names):
        raise ValueError(f"tools/tableau_tds.py RELATIONSHIPS name relations not in marts: {unknown}")
    neighbours: dict[str, list[str]] = {n: [] for n in names}
    for r in relationships:
        neighbours[r.left].append(r.right)
        neighbours[r.right].append(r.left)
    seen, todo = {ROOT}, [ROOT]
    while todo:
        for other in neighbours[todo.pop()]:
            if other not in seen:
                seen.add(other)
                todo.append(other)
    if missing := sorted(names - seen):
        raise ValueError(
            f"marts {missing} have no relationship to the star schema: add one to RELATIONSHIPS in"
            " tools/tableau_tds.py (Tableau needs every table of a data source related)"
        )
    if len(relationships) != len(names) - 1:
        raise ValueError(
            f"RELATIONSHIPS in tools/tableau_tds.py form a cycle ({len(relationships)} relationships"
            f" for {len(names)} relations; Tableau's relationships must form a tree)"
        )


# --- fields: captions, roles -------------------------------------------------------------------

_WORDS = {"id": "ID", "iso": "ISO", "ndcg": "NDCG", "map": "MAP", "pca": "PCA", "dbscan": "DBSCAN",
          "kmeans": "K-means", "sha256": "SHA-256", "dag": "DAG", "rfm": "RFM", "k": "k"}  # fmt: skip
_SMALL = {"at", "of", "per", "to", "by", "and"}
# integers that label rather than count: dimensions in Tableau, never summed
_DISCRETE_INTEGERS = {"rank", "k", "year", "quarter", "month", "day_of_month", "iso_year", "iso_week",
                      "iso_weekday", "hour_of_day", "price_band", "expectation_index", "kmeans_cluster",
                      "dbscan_cluster", "min_samples", "chosen_k", "order_line_key", "return_line_key"}  # fmt: skip


def caption(name: str) -> str:
    """A field or table name as people read it: customer_id -> Customer ID."""
    words = name.split("_")
    out = [_WORDS.get(w, w if w in _SMALL and i else w.capitalize()) for i, w in enumerate(words)]
    return " ".join(out)


def table_caption(name: str) -> str:
    if name.startswith("fct_"):
        return f"{caption(name[4:])} (fact)"
    if name.startswith("dim_"):
        return f"{caption(name[4:])} (dim)"
    return caption(name)


def _role(column: str, tds_type: str) -> tuple[str, str]:
    """(role, type) of a field: measures are the numbers to add up or average."""
    if tds_type == "real" or (
        tds_type == "integer" and column not in _DISCRETE_INTEGERS and not column.endswith(("_id", "_key"))
    ):
        return "measure", "quantitative"
    if tds_type in {"date", "datetime", "integer"}:
        return "dimension", "ordinal"
    return "dimension", "nominal"


def _aggregation(tds_type: str) -> str:
    if tds_type in {"date", "datetime"}:
        return "Year"
    if tds_type in {"string", "boolean"}:
        return "Count"
    return "Sum"


def local_name(mart: str, column: str) -> str:
    """The field's name in the data source: unique across tables."""
    return f"[{column} ({mart})]"


# --- rendering --------------------------------------------------------------------------------


def render_tds(relations: list[Mart], host: str, port: int, database: str, user: str) -> str:
    """A Tableau data source (2020.2+ relationships model) on the marts through `user`: one logical
    table per marts relation, related by RELATIONSHIPS into one tree with the star schema at its
    trunk; every field with a caption and its COMMENT as description."""
    by_name = {m.name: m for m in relations}
    check_tree(set(by_name))
    for r in RELATIONSHIPS:
        for mart, column in ((r.left, r.left_column), (r.right, r.right_column)):
            if column not in {c.name for c in by_name[mart].columns}:
                raise ValueError(f"RELATIONSHIPS: marts.{mart} has no column {column}")
    root = ET.Element(
        "datasource",
        {
            "caption": "ecommerce marts",
            "formatted-name": "ecommerce marts",
            "inline": "true",
            "version": "18.1",
        },
    )
    conn = ET.SubElement(root, "connection", {"class": "federated"})
    named = ET.SubElement(conn, "named-connections")
    nc = ET.SubElement(named, "named-connection", {"caption": f"{host}", "name": "postgres.marts"})
    ET.SubElement(nc, "connection", {
        "authentication": "username-password", "class": "postgres", "dbname": database, "one-time-sql": "",
        "port": str(port), "server": host, "sslmode": "", "username": user,
    })  # fmt: skip
    collection = ET.SubElement(conn, "relation", {"type": "collection"})
    for mart in relations:
        ET.SubElement(collection, "relation", {
            "connection": "postgres.marts", "name": mart.name, "table": f"[marts].[{mart.name}]", "type": "table",
        })  # fmt: skip
    records = ET.SubElement(conn, "metadata-records")
    for mart in relations:
        for ordinal, col in enumerate(mart.columns):
            tds_type = _tds_type(col.data_type)
            rec = ET.SubElement(records, "metadata-record", {"class": "column"})
            ET.SubElement(rec, "remote-name").text = col.name
            ET.SubElement(rec, "local-name").text = local_name(mart.name, col.name)
            ET.SubElement(rec, "parent-name").text = f"[{mart.name}]"
            ET.SubElement(rec, "remote-alias").text = col.name
            ET.SubElement(rec, "ordinal").text = str(ordinal)
            ET.SubElement(rec, "local-type").text = tds_type
            ET.SubElement(rec, "aggregation").text = _aggregation(tds_type)
            ET.SubElement(rec, "contains-null").text = "true"
            ET.SubElement(rec, "object-id").text = f"[{mart.name}]"
    ET.SubElement(root, "aliases", {"enabled": "yes"})
    for mart in relations:
        for col in mart.columns:
            tds_type = _tds_type(col.data_type)
            role, kind = _role(col.name, tds_type)
            field = ET.SubElement(root, "column", {
                "caption": caption(col.name), "datatype": tds_type, "name": local_name(mart.name, col.name),
                "role": role, "type": kind,
            })  # fmt: skip
            if col.comment:
                run = ET.SubElement(ET.SubElement(ET.SubElement(field, "desc"), "formatted-text"), "run")
                run.text = col.comment
    ET.SubElement(root, "layout", {"dim-ordering": "alphabetic", "measure-ordering": "alphabetic",
                                   "show-structure": "true"})  # fmt: skip
    graph = ET.SubElement(root, "object-graph")
    objects = ET.SubElement(graph, "objects")
    for mart in relations:
        obj = ET.SubElement(objects, "object", {"caption": table_caption(mart.name), "id": mart.name})
        props = ET.SubElement(obj, "properties", {"context": ""})
        ET.SubElement(props, "relation", {
            "connection": "postgres.marts", "name": mart.name, "table": f"[marts].[{mart.name}]", "type": "table",
        })  # fmt: skip
    links = ET.SubElement(graph, "relationships")
    for r in RELATIONSHIPS:
        rel = ET.SubElement(links, "relationship")
        expression = ET.SubElement(rel, "expression", {"op": "="})
        ET.SubElement(expression, "expression", {"op": local_name(r.left, r.left_column)})
        ET.SubElement(expression, "expression", {"op": local_name(r.right, r.right_column)})
        ET.SubElement(rel, "first-end-point", {"object-id": r.left})
        ET.SubElement(rel, "second-end-point", {"object-id": r.right})
    ET.indent(root)
    return "<?xml version='1.0' encoding='utf-8' ?>\n" + ET.tostring(root, encoding="unicode") + "\n"


@dataclass(frozen=True)
class Environment:
    """Where Tableau finds the warehouse: one .tds per environment."""

    name: str
    path: Path
    host: str
    port: int
    database: str


def environments(embedded_port: int | None = None) -> tuple[Environment, ...]:
    """The embedded server of `make demo` (its port from config, EMBEDDED_PG_PORT) and the
    warehouse docker compose publishes on the host (COMPOSE_WAREHOUSE_PORT)."""
    return (
        Environment(
            "embedded",
            config.TABLEAU_TDS_PATH,
            config.EMBEDDED_PG_HOST,
            config.EMBEDDED_PG_PORT if embedded_port is None else embedded_port,
            config.WAREHOUSE_DB,
        ),
        Environment(
            "compose",
            config.TABLEAU_COMPOSE_TDS_PATH,
            "127.0.0.1",
            config.COMPOSE_WAREHOUSE_PORT,
            config.WAREHOUSE_DB,
        ),
    )


def write_data_sources(conn: psycopg.Connection, embedded_port: int | None = None) -> list[Path]:
    """Write the .tds of every environment from the database's marts (`make docs`); returns the paths."""
    relations = marts(conn)
    written = []
    for env in environments(embedded_port):
        env.path.parent.mkdir(parents=True, exist_ok=True)
        env.path.write_text(
            render_tds(relations, env.host, env.port, env.database, config.BI_ROLE), encoding="utf-8"
        )
        written.append(env.path)
    return written


# --- reading a .tds back (the tests check it against the database) ---------------------------


@dataclass(frozen=True)
class TdsField:
    relation: str
    column: str
    local_type: str


@dataclass(frozen=True)
class TdsModel:
    """What a .tds names: its connection, tables, fields (by local name) and relationships."""

    server: str
    port: int
    database: str
    objects: dict[str, str]  # object id -> table (marts.<name>)
    fields: dict[str, TdsField]  # local name -> field
    columns: dict[str, dict]  # local name -> attributes of its <column> (caption, datatype, role, ...)
    descriptions: dict[str, str]  # local name -> description
    relationships: list[tuple[str, str, str, str]]  # (first object, its field, second object, its field)


def parse_tds(tds_text: str) -> TdsModel:
    root = ET.fromstring(tds_text)
    pg = root.find("./connection/named-connections/named-connection/connection")
    objects = {}
    for obj in root.iterfind("./object-graph/objects/object"):
        rel = obj.find("./properties/relation")
        objects[obj.get("id")] = rel.get("table")
    fields = {}
    for rec in root.iter("metadata-record"):
        fields[rec.findtext("local-name")] = TdsField(
            rec.findtext("object-id", "").strip("[]"), rec.findtext("remote-name"), rec.findtext("local-type")
        )
    columns = {c.get("name"): dict(c.attrib) for c in root.iterfind("./column")}
    descriptions = {c.get("name"): "".join(c.itertext()).strip() for c in root.iterfind("./column")}
    relationships = []
    for rel in root.iterfind("./object-graph/relationships/relationship"):
        left, right = (e.get("op") for e in rel.find("expression"))
        relationships.append(
            (
                rel.find("first-end-point").get("object-id"),
                left,
                rel.find("second-end-point").get("object-id"),
                right,
            )
        )
    return TdsModel(
        pg.get("server"),
        int(pg.get("port")),
        pg.get("dbname"),
        objects,
        fields,
        columns,
        descriptions,
        relationships,
    )


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
