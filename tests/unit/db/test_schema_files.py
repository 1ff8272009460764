"""The DDL files and the comments file, read without a database: the comments BI sees have one
place (sql/schema/comments.yaml), every entry is well formed, and a change to it changes the digest
apply_schema compares (so a new comment is applied on the next set-up)."""

from __future__ import annotations

import re

import pytest

from include import config
from include.db import schema

pytestmark = pytest.mark.unit


def test_no_ddl_file_holds_a_comment_on_the_comments_have_one_place():
    holders = [
        str(path.relative_to(config.SQL_DIR))
        for path in sorted(config.SQL_DIR.rglob("*.sql"))
        if re.search(r"^\s*comment\s+on\b", path.read_text(encoding="utf-8"), re.IGNORECASE | re.MULTILINE)
    ]
    assert not holders, f"move these COMMENT ON statements to sql/{schema.COMMENTS_FILE}: {holders}"


def test_every_comments_entry_names_a_relation_of_a_ddl_file_and_has_text():
    ddl = "\n".join(
        config.SQL_DIR.joinpath(name).read_text(encoding="utf-8") for name in schema.schema_files()
    )
    entries = schema.documented_relations()
    assert entries
    for relation, entry in entries.items():
        assert re.search(
            rf"\b(table|view) if not exists {re.escape(relation)}\b|\bview {re.escape(relation)}\b", ddl
        ), f"{relation}: no DDL file creates it"
        texts = [entry.get("comment"), *(entry.get("columns") or {}).values()]
        assert all(isinstance(t, str) and t.strip() for t in texts if t is not None), relation
    marts_views = {p.stem for p in (config.SQL_DIR / "schema" / config.MARTS_SCHEMA).glob("*.sql")}
    documented = {r.split(".", 1)[1] for r in entries if r.startswith(f"{config.MARTS_SCHEMA}.")}
    assert documented == marts_views, "every marts view, and only those, is documented"


def test_the_comments_file_is_part_of_the_schema_digest(monkeypatch):
    before = schema.schema_digest()
    original = schema.read_sql
    monkeypatch.setattr(
        schema,
        "read_sql",
        lambda name: original(name) + ("\n# edited" if name == schema.COMMENTS_FILE else ""),
    )
    assert schema.schema_digest() != before


def test_a_layout_lands_as_its_source_columns_in_text_after_the_load_columns():
    from dataclasses import replace

    from include.ingest.layouts import ONLINE_RETAIL

    layout = replace(ONLINE_RETAIL, source_columns=("InvoiceNo", "Customer ID"), raw_table="some_lines")
    assert schema.raw_table_ddl(layout).as_string() == (
        'create table if not exists "raw"."some_lines" ('
        "load_id integer not null default current_setting('ingest.load_id')::integer,"
        " source_line_number integer not null default nextval('raw.source_line_seq'),"
        ' "invoice_no" text, "customer_id" text)'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "marts.dim_dates:\n  columns:\n    is_weekend: yes\n",
            r"marts\.dim_dates column is_weekend: True is not a text",
        ),
        (
            "marts.dim_dates:\n  description: x\n",
            r"marts\.dim_dates: expected a '<schema>\.<relation>' entry",
        ),
        ("dim_dates:\n  comment: x\n", r"dim_dates: expected a '<schema>\.<relation>' entry"),
    ],
)
def test_a_malformed_comments_entry_is_refused_naming_file_and_entry(monkeypatch, text, message):
    original = schema.read_sql
    monkeypatch.setattr(
        schema, "read_sql", lambda name: text if name == schema.COMMENTS_FILE else original(name)
    )
    with pytest.raises(ValueError, match=r"sql/schema/comments\.yaml: " + message):
        schema.documented_relations()
