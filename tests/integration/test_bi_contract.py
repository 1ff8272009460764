"""The BI contract files match the database: the data dictionary is generated from the comments,
the Tableau data source names only relations and columns that exist, every column has a comment."""

from __future__ import annotations

import pytest

from include import config

pytestmark = pytest.mark.integration


def test_data_dictionary_matches_the_database_comments(db):
    from include.publish.dictionary import render

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
    from include.publish.tableau import tds_relations

    relations = tds_relations(config.TABLEAU_TDS_PATH.read_text(encoding="utf-8"))
    actual = {m.name: {c.name for c in m.columns} for m in marts(db)}
    assert relations, "the .tds names relations"
    for name, columns in relations.items():
        assert name in actual, f"{name} is not a marts relation"
        assert columns <= actual[name], f"{name}: {columns - actual[name]} do not exist"
    assert set(relations) == set(actual), "every mart is in the data source"
