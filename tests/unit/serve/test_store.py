"""The answer envelopes: pre-rendered JSON items (as PostgreSQL renders them) spliced into a header."""

from __future__ import annotations

import json

import pytest

from include.serve import store

pytestmark = pytest.mark.unit

# json_build_object's own spacing, as the snapshot holds the items
ITEMS = [
    '{"rank" : 1, "product_id" : "A", "score" : 0.5}',
    '{"rank" : 2, "product_id" : "B", "score" : 0.25}',
]


def test_an_envelope_is_the_header_with_the_items_appended():
    body = json.loads(store.envelope({"run_id": "r", "note": None, "name": 'quote " and é'}, ITEMS))
    assert body == {
        "run_id": "r",
        "note": None,
        "name": 'quote " and é',
        "items": [
            {"rank": 1, "product_id": "A", "score": 0.5},
            {"rank": 2, "product_id": "B", "score": 0.25},
        ],
    }
    assert json.loads(store.envelope({"run_id": "r"}, []))["items"] == []
    assert json.loads(store.envelope({"run_id": "r"})) == {"run_id": "r"}


def test_a_pre_rendered_answer_gets_its_run_id_first():
    body = store.with_run('run "1"', '{"customer_id" : 7, "segment" : {"segment_id" : 2}}')
    assert body.startswith(b'{"run_id":"run \\"1\\"",')
    assert json.loads(body) == {"run_id": 'run "1"', "customer_id": 7, "segment": {"segment_id": 2}}


def test_every_api_mart_and_the_pointer_query_are_known():
    assert set(store.MARTS) == {
        "customer_recommendations",
        "product_similarity",
        "product_pairs",
        "customer_segments",
        "segment_profiles",
    }
    assert store.COUNTS_SQL.count("count(*)") == len(store.MARTS)
