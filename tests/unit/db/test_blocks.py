"""The blocks of the mapped steps: sizes, key ranges that cover every key exactly once (keys
unknown at planning time too), and their SQL conditions."""

from __future__ import annotations

import numpy as np
import pytest

from include.db import blocks as steps

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("keys", "per_task", "max_tasks", "size"),
    [
        (10, 4, 64, 4),  # 3 blocks: 4, 4, 2
        (10, 1, 4, 3),  # 10 wanted, at most 4: blocks of 3 (3, 3, 3, 1)
        (4_300, 250_000, 64, 4_300),  # the default: Online Retail is one block
        (600, 201, 64, 200),  # 3 blocks of 200
        (0, 100, 64, 1),  # nothing to cut: one (empty) block
    ],
)
def test_block_size(keys, per_task, max_tasks, size):
    assert steps.block_size(keys, per_task, max_tasks) == size


def test_key_ranges_are_open_at_both_ends():
    assert steps.key_ranges([]) == [{"block": 0, "blocks": 1, "first": None, "next": None}]
    assert steps.key_ranges([20, 30]) == [
        {"block": 0, "blocks": 3, "first": None, "next": 20},
        {"block": 1, "blocks": 3, "first": 20, "next": 30},
        {"block": 2, "blocks": 3, "first": 30, "next": None},
    ]


def test_every_customer_falls_in_exactly_one_block():
    # 5 and 35 were not there when the blocks were planned (cut at 20 and 30)
    ids = np.array([5, 12, 19, 20, 21, 29, 30, 35])
    hits = np.vstack([steps.ids_in_block(ids, b) for b in steps.key_ranges([20, 30])])
    assert (hits.sum(axis=0) == 1).all()
    assert ids[hits[1]].tolist() == [20, 21, 29]
    assert steps.ids_in_block(ids, None).all()


def test_block_conditions_bind_the_bounds():
    first, middle, last = steps.key_ranges(["20", "30"])
    _, params = steps.in_block("product_id", middle)
    assert params == {"block_first": "20", "block_next": "30"}
    assert steps.in_block("product_id", first)[1] == {"block_next": "20"}
    assert steps.in_block("product_id", last)[1] == {"block_first": "30"}
    assert steps.in_block("product_id", None)[1] == {}
    assert steps.block_label(middle) == "block 2/3: 20 <= key < 30"
    assert steps.block_label(steps.key_ranges([])[0]) == "block 1/1: every key"
