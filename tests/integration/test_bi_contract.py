"""The BI contract files match the database: the data dictionary is generated from the comments,
the Tableau data sources (one per environment) name only relations and columns that exist, with
their types, relate them into one tree on columns of the same type, carry every column's comment,
and every column has a comment."""

from __future__ import annotations

import pytest

from include import config

pytestmark = pytest.mark.integration


def test_data_dictionary_matches_the_database_comments(db):
    from tools.data_dictionary import render

    assert config.DATA_DICTIONARY_PATH.read_text(encoding="utf-8") == render(db), (
        "docs/data_dictionary.md is stale: run `make docs`"
    )


def test_every_mart_and_column_has_a_comment_stating_the_grain(db):
    from include.publish.catalog import marts

    found = marts(db)
    assert found
    for mart in found:
        assert "one row per" in mart.comment.lower(), f"marts.{mart.name} states no grain"
        missing = [c.name for c in mart.columns if not c.comment]
        assert not missing, f"marts.{mart.name}: columns without COMMENT ON: {missing}"


def test_tableau_data_source_names_only_what_exists(db):
    from include.publish.catalog import marts
    from tools.tableau_tds import tds_relations

    relations = tds_relations(config.TABLEAU_TDS_PATH.read_text(encoding="utf-8"))
    actual = {m.name: {c.name for c in m.columns} for m in marts(db)}
    assert relations, "the .tds names relations"
    for name, columns in relations.items():
        assert name in actual, f"{name} is not a marts relation"
        assert columns <= actual[name], f"{name}: {columns - actual[name]} do not exist"
    assert set(relations) == set(actual), "every mart is in the data source"


TDS_FILES = {"embedded": config.TABLEAU_TDS_PATH, "compose": config.TABLEAU_COMPOSE_TDS_PATH}


@pytest.fixture(scope="module")
def mart_columns(warehouse) -> dict:
    from include.db.connection import connect
    from include.publish.catalog import marts

    with connect(warehouse) as conn:
        return {m.name: {c.name: c for c in m.columns} for m in marts(conn)}


@pytest.mark.parametrize("environment", sorted(TDS_FILES))
def test_tableau_data_source_tables_and_fields_exist_with_their_types(mart_columns, environment):
    from tools.tableau_tds import _tds_type, parse_tds

    model = parse_tds(TDS_FILES[environment].read_text(encoding="utf-8"))
    assert set(model.objects) == set(mart_columns), "one logical table per marts relation"
    for object_id, table in model.objects.items():
        assert table == f"[marts].[{object_id}]"
    named = set()
    for local_name, field in model.fields.items():
        assert field.relation in mart_columns, f"{local_name}: {field.relation} is not a marts relation"
        column = mart_columns[field.relation].get(field.column)
        assert column is not None, f"{local_name}: marts.{field.relation} has no column {field.column}"
        assert field.local_type == _tds_type(column.data_type), (local_name, column.data_type)
        named.add((field.relation, field.column))
    every = {(mart, column) for mart, columns in mart_columns.items() for column in columns}
    assert named == every, f"columns missing from the data source: {sorted(every - named)[:5]}"
    # every field has its caption and, as description, its COMMENT; datatype as the field's type
    assert set(model.columns) == set(model.fields)
    for local_name, attributes in model.columns.items():
        field = model.fields[local_name]
        assert attributes["datatype"] == field.local_type
        assert attributes["caption"] and attributes["role"] in {"dimension", "measure"}
        assert model.descriptions[local_name] == mart_columns[field.relation][field.column].comment


@pytest.mark.parametrize("environment", sorted(TDS_FILES))
def test_tableau_relationships_join_columns_of_the_same_type_into_one_tree(mart_columns, environment):
    from tools.tableau_tds import ROOT, parse_tds

    model = parse_tds(TDS_FILES[environment].read_text(encoding="utf-8"))
    assert model.relationships, "the data source relates its tables"
    neighbours = {name: set() for name in model.objects}
    for first, left, second, right in model.relationships:
        assert first in model.objects and second in model.objects
        left_field, right_field = model.fields[left], model.fields[right]
        assert (left_field.relation, right_field.relation) == (first, second), (left, right)
        assert left_field.local_type == right_field.local_type, (left, right)
        left_type = mart_columns[first][left_field.column].data_type
        assert left_type == mart_columns[second][right_field.column].data_type, (left, right)
        neighbours[first].add(second)
        neighbours[second].add(first)
    seen, todo = {ROOT}, [ROOT]
    while todo:
        for other in neighbours[todo.pop()] - seen:
            seen.add(other)
            todo.append(other)
    assert seen == set(model.objects), f"tables related to nothing: {set(model.objects) - seen}"
    assert len(model.relationships) == len(model.objects) - 1, "the relationships form a tree (no cycle)"
    star = {(first, second) for first, _, second, _ in model.relationships}
    for fact in ("fct_order_lines", "fct_returns"):
        assert (fact, "dim_products") in star
    assert {("fct_order_lines", "dim_customers"), ("fct_order_lines", "dim_dates")} <= star


@pytest.mark.parametrize("environment", sorted(TDS_FILES))
def test_tableau_data_sources_are_generated_from_the_database(db, environment):
    from include.publish.catalog import marts
    from tools.tableau_tds import parse_tds, render_tds

    text = TDS_FILES[environment].read_text(encoding="utf-8")
    model = parse_tds(text)
    assert text == render_tds(marts(db), model.server, model.port, model.database, config.BI_ROLE), (
        f"{TDS_FILES[environment]} is stale: run `make docs`"
    )
