"""The ingest_ecommerce steps: prepare the warehouse, land a source, load it into raw, prune old
loads. Each returns small metadata for XCom."""

from __future__ import annotations

import logging
from pathlib import Path

from include import config
from include.db.connection import connect
from include.db.schema import apply_schema
from include.ingest import audit
from include.ingest.loader import copy_into_raw, prune_raw_loads
from include.ingest.sources import land

log = logging.getLogger(__name__)


def prepare_warehouse() -> dict:
    """Apply the warehouse schema (include/db/schema.py): the one place it is applied from a DAG.
    Nothing runs when the files are unchanged since they were last applied."""
    with connect() as conn:
        applied = apply_schema(conn)
    log.info("warehouse schema %s", "applied" if applied else "already current")
    return {"applied": applied}


def land_source(source: str) -> dict:
    """Pull `source` (Kaggle slug, path or URL) into the landing folder; returns what landed."""
    return land(source, config.LANDING_DIR).to_xcom()


def load_raw(landed: dict, dag_id: str, run_id: str, layout: str | None = None) -> dict:
    """COPY the landed file into its raw table as this run's load; records the run in audit.
    Messages name a local file as the user gave it (a download by its landed path)."""
    shown = landed.get("source") if landed.get("kind") == "file" else None
    with connect() as conn:
        load_id, is_rerun = audit.start(conn, dag_id, run_id, landed)
        conn.commit()
        try:
            result = copy_into_raw(
                conn,
                Path(landed["path"]),
                load_id,
                layout,
                replace=is_rerun,
                source_name=shown,
            )
            audit.finish(conn, load_id, result.layout, result.rows, {"load": result.seconds})
            conn.commit()
        except Exception as err:
            conn.rollback()
            audit.fail(conn, load_id, f"{type(err).__name__}: {err}")
            conn.commit()
            raise
    log.info(
        "load %d: %d rows of layout %s in raw.%s (land %.2f s, load %.2f s)",
        load_id,
        result.rows,
        result.layout,
        result.raw_table,
        landed.get("seconds", 0),
        result.seconds,
    )
    return result.to_xcom()


def prune_raw(keep: int = config.RAW_LOADS_KEPT) -> int:
    """Delete raw rows of all but the newest `keep` successful loads; returns rows deleted."""
    with connect() as conn:
        pruned = prune_raw_loads(conn, keep)
    log.info("pruned %d raw rows: raw keeps the newest %d successful loads", pruned, keep)
    return pruned
