"""recommend_products' mapped steps add up: every planned block once, all their rows (the
blocks themselves: tests/unit/db/test_blocks.py)."""

from __future__ import annotations

import pytest

from include.tasks import recommend_products as steps

pytestmark = pytest.mark.unit


def _results(blocks: int, rows: int = 10) -> list[dict]:
    return [{"block": i, "blocks": blocks, "rows": rows} for i in range(blocks)]


def test_check_blocks_wants_every_planned_block_once_and_all_their_rows():
    assert steps.check_blocks(_results(3), "rows", "customer_recommendations", 30) == 3
    with pytest.raises(steps.RecommendationError, match=r"mapped blocks \[0, 1\] are not the planned ones"):
        steps.check_blocks(_results(3)[:2], "rows", "customer_recommendations", 20)
    with pytest.raises(steps.RecommendationError, match="not the planned ones"):
        steps.check_blocks([*_results(3), _results(3)[1]], "rows", "customer_recommendations", 40)
    with pytest.raises(steps.RecommendationError, match="the 3 blocks wrote 30 rows, the run has 25"):
        steps.check_blocks(_results(3), "rows", "customer_recommendations", 25)
