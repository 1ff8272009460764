"""A long SQL statement reports in the task log while it runs.

PostgreSQL keeps no progress for an `INSERT ... SELECT` or a `CREATE TABLE ... AS` (only COPY,
CREATE INDEX, VACUUM, ANALYZE and CLUSTER have `pg_stat_progress_*` views), so a set-based step
that sorts 54 M lines for minutes (`sql/staging/classified_lines.sql` took 464 s at 100x) is
silent until it ends, and the person watching cannot tell a slow step from a stuck one.

`watched(conn, label)` wraps one statement. When it has run for `SQL_PROGRESS_SECONDS` (30 s by
default), a thread opens a connection of its own (the statement's own parameters) and logs, then
again at every interval until the statement ends:

- the time so far, the backend's state and wait event (`Lock` waits name what blocks it);
- the bytes its backend and parallel workers have spilled to temporary files (a sort or hash
  too big for `work_mem`), where the role may read `pg_ls_tmpdir()` (superusers and
  `pg_monitor`; left out otherwise);
- where PostgreSQL tracks the phase (building an index or a key, a COPY): its blocks or rows
  done of the total, the rate and the time left.

A statement that ends sooner costs one idle thread and no connection. The thread never touches
the statement's connection, and a report that fails is logged at debug level and ends the
reports: watching never fails a step. `engine_statements_watched` does the same at the same
interval for SQL run through SQLAlchemy (Great Expectations).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import make_conninfo

from include import config

log = logging.getLogger(__name__)

ACTIVITY = """
select a.state, a.wait_event_type, a.wait_event,
       (select count(*) from pg_stat_activity w where w.leader_pid = a.pid) as workers
from pg_stat_activity a where a.pid = %(pid)s
"""
TEMP_BYTES = """
select coalesce(sum(t.size), 0)::bigint
from pg_ls_tmpdir() t
join pg_stat_activity b on (b.pid = %(pid)s or b.leader_pid = %(pid)s)
 and t.name like 'pgsql_tmp' || b.pid || '.%%'
"""
INDEX_PROGRESS = """
select phase, blocks_done, blocks_total, tuples_done, tuples_total
from pg_stat_progress_create_index where pid = %(pid)s
"""
COPY_PROGRESS = """
select bytes_processed, bytes_total, tuples_processed
from pg_stat_progress_copy where pid = %(pid)s
"""


@contextmanager
def _every(
    label: str, every: float | None, tick: Callable[[float], None], finish: Callable[[], None] = lambda: None
) -> Iterator[None]:
    """While the block runs, `tick(seconds so far)` in a thread of its own every `every` seconds
    (default config.SQL_PROGRESS_SECONDS; 0 or less: never), then `finish()` in that thread. A
    tick that fails is logged at debug level and ends the reports: watching never fails a step."""
    every = config.SQL_PROGRESS_SECONDS if every is None else every
    if every <= 0:
        yield
        return
    done = threading.Event()
    started = time.monotonic()

    def run() -> None:
        try:
            while not done.wait(every):
                tick(time.monotonic() - started)
        except Exception as err:  # noqa: BLE001
            log.debug("%s: no progress report (%s)", label, err)
        finally:
            finish()

    thread = threading.Thread(target=run, name=f"watch {label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


@contextmanager
def watched(conn: psycopg.Connection, label: str, every: float | None = None) -> Iterator[None]:
    """Reports on the statement(s) run on `conn` inside the block every `every` seconds
    (default config.SQL_PROGRESS_SECONDS; 0 turns the reports off) once they pass that time."""
    report = _StatementReport(conn, label)
    with _every(label, every, report.tick, report.close):
        yield


class _StatementReport:
    """What one report line says of a backend, read on a connection of its own (opened at the
    first report: a statement that ends sooner costs none)."""

    def __init__(self, conn: psycopg.Connection, label: str) -> None:
        self.label = label
        self.pid = conn.info.backend_pid
        # the statement's own server, database and role; the password is never logged
        self.conninfo = make_conninfo(conn.info.dsn, password=conn.info.password or None)
        self.watch: psycopg.Connection | None = None
        # phase -> (first seen at, fraction then, fraction last seen); a block may build several
        # indexes, each through the same phases (and index_relid is 0 in a plain CREATE INDEX)
        self.phase_seen: dict[str, tuple[float, float, float]] = {}
        self.temp_readable = True

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()

    def tick(self, elapsed: float) -> None:
        if self.watch is None:
            self.watch = psycopg.connect(self.conninfo, autocommit=True, application_name="watch")
        params = {"pid": self.pid}
        activity = self.watch.execute(ACTIVITY, params).fetchone()
        if activity is None or (activity[0] or "").startswith("idle"):  # gone, or the statement ended
            return
        state, wait_type, wait_event, workers = activity
        parts = [f"{self.label}: running for {elapsed:,.0f} s", f"state {state}"]
        if wait_event:
            parts.append(f"waiting on {wait_type} {wait_event}")
        if workers:
            parts.append(f"{workers} parallel workers")
        temp = self.temp_bytes(params)
        if temp:
            parts.append(f"{temp / 1e6:,.0f} MB spilled to temporary files")
        phase = self.phase(params, elapsed)
        if phase:
            parts.append(phase)
        log.info("; ".join(parts))

    def temp_bytes(self, params: dict) -> int:
        if not self.temp_readable:
            return 0
        try:
            return int(self.watch.execute(TEMP_BYTES, params).fetchone()[0])
        except psycopg.errors.InsufficientPrivilege:
            self.temp_readable = False  # the role may not list temporary files: say nothing of them
            return 0

    def phase(self, params: dict, elapsed: float) -> str | None:
        """The tracked phase with its fraction done, rate and time left, or None."""
        index = self.watch.execute(INDEX_PROGRESS, params).fetchone()
        if index:
            name, blocks_done, blocks_total, tuples_done, tuples_total = index
            if tuples_total:
                done, total, unit = tuples_done, tuples_total, "rows"
            elif blocks_total:
                done, total, unit = blocks_done, blocks_total, "blocks"
            else:
                return name
            return f"{name}, " + self.progress(name, done, total, unit, elapsed)
        copy = self.watch.execute(COPY_PROGRESS, params).fetchone()
        if copy:
            bytes_done, bytes_total, rows = copy
            if bytes_total:
                return f"copy: {rows:,} rows, " + self.progress(
                    "copy", bytes_done, bytes_total, "bytes", elapsed
                )
            return f"copy: {rows:,} rows"
        return None

    def progress(self, phase: str, done: int, total: int, unit: str, elapsed: float) -> str:
        fraction = done / total
        first_at, first_fraction, last = self.phase_seen.get(phase, (elapsed, fraction, fraction))
        if fraction < last:  # the same phase again, of the next index: measured afresh
            first_at, first_fraction = elapsed, fraction
        self.phase_seen[phase] = (first_at, first_fraction, fraction)
        text = f"{done:,} of {total:,} {unit} ({fraction:.0%})"
        if elapsed > first_at and fraction > first_fraction:
            rate = (fraction - first_fraction) / (elapsed - first_at)
            text += f", {rate * total / 1e6 if unit == 'bytes' else rate * total:,.0f}"
            text += " MB/s" if unit == "bytes" else f" {unit}/s"
            text += f", about {(1 - fraction) / rate:,.0f} s left"
        return text


@contextmanager
def engine_statements_watched(label: str, every: float | None = None) -> Iterator[None]:
    """For code that runs its SQL through SQLAlchemy engines of its own (Great Expectations'
    suites): every `every` seconds (config.SQL_PROGRESS_SECONDS; 0: off) the time so far, the
    statements done and how long the current one has run. Counts the statements of the calling
    thread only (Airflow's own engine may run in other threads of the same process)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    thread = threading.get_ident()
    state = {"done": 0, "since": None}

    def before(*_args, **_kwargs) -> None:
        if threading.get_ident() == thread:
            state["since"] = time.monotonic()

    def after(*_args, **_kwargs) -> None:
        if threading.get_ident() == thread:
            state["done"] += 1
            state["since"] = None

    def tick(elapsed: float) -> None:
        since = state["since"]
        current = f"; the current one for {time.monotonic() - since:.0f} s" if since is not None else ""
        log.info("%s: running for %.0f s; %d queries done%s", label, elapsed, state["done"], current)

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        with _every(label, every, tick):
            yield
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
