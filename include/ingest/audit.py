"""audit.ingest_runs: one row per ingestion run, written as the run goes."""

from __future__ import annotations

import json

import psycopg

START = """
insert into audit.ingest_runs as r (dag_id, run_id, source, source_kind, file_name, source_sha256, source_bytes, step_seconds)
values (%(dag_id)s, %(run_id)s, %(source)s, %(kind)s, %(file_name)s, %(sha256)s, %(size_bytes)s, %(step_seconds)s)
on conflict (dag_id, run_id) do update
   set source = excluded.source, source_kind = excluded.source_kind, file_name = excluded.file_name,
       source_sha256 = excluded.source_sha256, source_bytes = excluded.source_bytes,
       step_seconds = excluded.step_seconds, status = 'running', error = null, layout = null,
       rows_landed = null, started_at = now(), finished_at = null
returning load_id, (xmax <> 0) as is_rerun
"""

FINISH = """
update audit.ingest_runs
   set status = 'success', layout = %(layout)s, rows_landed = %(rows)s,
       step_seconds = step_seconds || %(step_seconds)s, finished_at = now()
 where load_id = %(load_id)s
"""

FAIL = """
update audit.ingest_runs
   set status = 'failed', error = %(error)s, finished_at = now()
 where load_id = %(load_id)s
"""


def start(conn: psycopg.Connection, dag_id: str, run_id: str, landed: dict) -> tuple[int, bool]:
    """Insert (or, for a rerun of the same DAG run, reset) the run's row: (load_id, is_rerun)."""
    params = {
        **landed,
        "dag_id": dag_id,
        "run_id": run_id,
        "step_seconds": json.dumps({"land": landed.get("seconds")}),
    }
    row = conn.execute(START, params).fetchone()
    assert row is not None
    return int(row[0]), bool(row[1])


def finish(conn: psycopg.Connection, load_id: int, layout: str, rows: int, seconds: dict) -> None:
    conn.execute(
        FINISH,
        {"load_id": load_id, "layout": layout, "rows": rows, "step_seconds": json.dumps(seconds)},
    )


def fail(conn: psycopg.Connection, load_id: int, error: str) -> None:
    conn.execute(FAIL, {"load_id": load_id, "error": error[:4000]})
