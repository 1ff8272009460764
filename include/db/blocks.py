"""Key-range blocks of the dynamically mapped steps (recommend_products' similarity and lists,
segment_customers' features): a plan task cuts the keys into ranges, one mapped task instance
per range, every task replacing its own range's rows, so the blocks meet in the tables.

A block is `{block, blocks, first, next}`: the keys k with first <= k < next (`first` None for
the first block, `next` None for the last), so the blocks cover every key exactly once, those
unknown at planning time included."""

from __future__ import annotations

import logging

import numpy as np
import psycopg
from psycopg import sql

from include import config

log = logging.getLogger(__name__)


def block_size(keys: int, per_task: int, max_tasks: int = config.MAPPED_MAX_TASKS) -> int:
    """Keys per block: ceil(keys / per_task) blocks (at least 1, at most max_tasks), of equal size.

    10 keys, 4 per task: 3 blocks of 4 (4, 4, 2); 10 keys, 1 per task, at most 4 tasks: 4 blocks of 3."""
    blocks = min(max(1, -(-keys // max(per_task, 1))), max(max_tasks, 1))
    return max(1, -(-keys // blocks))


def key_ranges(boundaries: list) -> list[dict]:
    """Blocks from the sorted first keys of every block but the first: block i holds the keys k
    with first <= k < next, `first` None for the first block, `next` None for the last, so the
    blocks cover every key, those unknown at planning time included, exactly once.

    [b, c] -> [{first: None, next: b}, {first: b, next: c}, {first: c, next: None}]"""
    bounds = [None, *boundaries, None]
    return [
        {"block": i, "blocks": len(bounds) - 1, "first": lo, "next": hi}
        for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
    ]


def block_label(block: dict) -> str:
    """'block 2/4: 13000 <= key < 14200' (the map index name shown in the Airflow UI)."""
    lo = "" if block["first"] is None else f"{block['first']} <= "
    hi = "" if block["next"] is None else f" < {block['next']}"
    return f"block {block['block'] + 1}/{block['blocks']}: " + (f"{lo}key{hi}" if lo or hi else "every key")


def plan(conn: psycopg.Connection, what: str, query: sql.Composable, per_task: int) -> list[dict]:
    """Blocks of at most `per_task` keys (at most MAPPED_MAX_TASKS blocks) of the keys `query`
    returns (one column named key), cut at the sorted keys: a block is a key range."""
    total = conn.execute(sql.SQL("select count(*) from ({}) k").format(query)).fetchone()[0]
    size = block_size(total, per_task)
    boundaries = [
        r[0]
        for r in conn.execute(
            sql.SQL(
                "select key from (select key, row_number() over (order by key) - 1 as pos from ({}) k) p"
                " where pos > 0 and pos %% %(size)s = 0 order by key"
            ).format(query),
            {"size": size},
        )
    ]
    blocks = key_ranges(boundaries)
    log.info("%s: %d in %d block(s) of up to %d", what, total, len(blocks), size)
    return blocks


def in_block(column: str, block: dict | None) -> tuple[sql.Composable, dict]:
    """The SQL condition (and its parameters) of a block's keys; `true` for no block (all)."""
    parts, params = [], {}
    if block and block.get("first") is not None:
        parts.append(sql.SQL("{} >= %(block_first)s").format(sql.Identifier(column)))
        params["block_first"] = block["first"]
    if block and block.get("next") is not None:
        parts.append(sql.SQL("{} < %(block_next)s").format(sql.Identifier(column)))
        params["block_next"] = block["next"]
    return (sql.SQL(" and ").join(parts) if parts else sql.SQL("true")), params


def ids_in_block(ids: np.ndarray, block: dict | None) -> np.ndarray:
    """Which of the integer keys `ids` the block holds (customer ids: no collation involved)."""
    keep = np.ones(len(ids), dtype=bool)
    if block and block.get("first") is not None:
        keep &= ids >= block["first"]
    if block and block.get("next") is not None:
        keep &= ids < block["next"]
    return keep


def check_blocks(
    results: list[dict], rows_key: str, table: str, rows_in_table: int, error: type[Exception] = RuntimeError
) -> int:
    """The mapped tasks' results of one step: every planned block exactly once, and the rows
    they wrote (`rows_key` of each result) are the run's rows of `table` (a block written over by
    another, or rows of no block, fail with `error`). Returns the blocks."""
    found = sorted(r["block"] for r in results)
    planned = {r["blocks"] for r in results}
    if len(planned) != 1 or found != list(range(planned.pop())):
        raise error(
            f"{table}: the mapped blocks {found} are not the planned ones"
            f" ({sorted({r['blocks'] for r in results})} blocks): rerun the DAG run (the plan and its blocks)"
        )
    written = sum(int(r[rows_key]) for r in results)
    if written != rows_in_table:
        raise error(
            f"{table}: the {len(found)} blocks wrote {written} rows, the run has {rows_in_table}:"
            " rerun the DAG run (the plan and its blocks)"
        )
    return len(found)
