"""Every integration test runs on the real test warehouse: the session's `warehouse` fixture
(tests/conftest.py) starts the server and migrates the databases once, before the first of them."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _warehouse(warehouse: str) -> str:
    return warehouse


@pytest.fixture
def publish_staged(warehouse):
    """Switch on the newest staged run of one stage's marts, as publish_marts.publish_snapshot
    does for the whole pipeline: for tests of one stage that read its marts views."""
    from include.db.connection import connect
    from include.publish import marts as publish

    stages = {
        "segments": publish.SEGMENT_MARTS["transactions"],
        "recommendations": publish.RECOMMENDATION_MARTS,
    }

    def switch(stage: str) -> str:
        with connect(warehouse) as conn:
            run = publish.newest_staged(conn, stages[stage])
            publish.publish_snapshot(conn, {run.run_id: stages[stage]})
        return run.run_id

    return switch
