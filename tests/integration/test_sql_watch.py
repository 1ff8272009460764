"""A long statement reports while it runs (include/db/watch.py), on the real server: its wait
event, the bytes a sort spills, an index build's rows done with the time left; a short one says
nothing; a step whose SQL file runs long reports through execute_file."""

from __future__ import annotations

import logging

import pytest

from include.db.watch import watched

WATCH_LOGGER = "include.db.watch"


def reports(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == WATCH_LOGGER]


def test_a_sleeping_statement_reports_its_time_and_wait_event(db, caplog):
    caplog.set_level(logging.INFO, logger=WATCH_LOGGER)
    with watched(db, "probe sleep", every=0.3):
        db.execute("select pg_sleep(1.5)")
    seen = reports(caplog)
    assert len(seen) >= 3, seen
    assert all(m.startswith("probe sleep: running for") for m in seen)
    assert "waiting on Timeout PgSleep" in seen[0]


def test_a_short_statement_says_nothing(db, caplog):
    caplog.set_level(logging.DEBUG, logger=WATCH_LOGGER)
    with watched(db, "probe short", every=2):
        db.execute("select 1")
    assert reports(caplog) == []


def test_a_spilling_sort_and_an_index_build_report_their_progress(db, caplog):
    caplog.set_level(logging.INFO, logger=WATCH_LOGGER)
    db.execute("set work_mem = '64kB'")
    db.execute("set max_parallel_workers_per_gather = 0")
    db.execute("set maintenance_work_mem = '1MB'")
    db.execute("set max_parallel_maintenance_workers = 0")
    try:
        with watched(db, "probe sort", every=0.25):
            db.execute(
                "create temp table watched_lines as"
                " select md5(g::text) || md5((g * 7)::text) as key from generate_series(1, 2500000) g order by 1 desc"
            )
        sort = reports(caplog)
        assert any("MB spilled to temporary files" in m for m in sort), sort

        caplog.clear()
        with watched(db, "probe index", every=0.2):
            db.execute("create index on watched_lines (key)")
        index = reports(caplog)
        phases = [m for m in index if "; building index: " in m]
        assert phases, index
        assert any(" of 2,500,000 rows (" in m for m in phases), phases
        assert any(" blocks (" in m and " blocks/s, about " in m and " s left" in m for m in phases), phases
    finally:
        db.execute("drop table if exists watched_lines")
        for setting in ("work_mem", "max_parallel_workers_per_gather", "maintenance_work_mem"):
            db.execute(f"reset {setting}")
        db.execute("reset max_parallel_maintenance_workers")


def test_execute_file_reports_through_the_watch(db, caplog, monkeypatch, tmp_path):
    from include import config
    from include.db import connection

    monkeypatch.setattr(config, "SQL_PROGRESS_SECONDS", 0.3)
    monkeypatch.setattr(config, "SQL_DIR", tmp_path)
    (tmp_path / "probe_sleep.sql").write_text("select pg_sleep(1.0)", encoding="utf-8")
    connection.read_sql.cache_clear()
    try:
        caplog.set_level(logging.INFO, logger=WATCH_LOGGER)
        connection.execute_file(db, "probe_sleep.sql")
    finally:
        connection.read_sql.cache_clear()
    seen = reports(caplog)
    assert seen and seen[0].startswith("sql/probe_sleep.sql: running for"), seen


@pytest.mark.parametrize("every", [0, -1])
def test_no_reports_when_turned_off(db, caplog, every):
    caplog.set_level(logging.DEBUG, logger=WATCH_LOGGER)
    with watched(db, "probe off", every=every):
        db.execute("select pg_sleep(0.3)")
    assert reports(caplog) == []


def test_statements_through_sqlalchemy_are_counted_for_the_calling_thread_only(warehouse, caplog):
    import re
    import threading

    import sqlalchemy as sa

    from include.db.connection import sqlalchemy_url
    from include.db.watch import engine_statements_watched

    engine = sa.create_engine(sqlalchemy_url())
    caplog.set_level(logging.INFO, logger=WATCH_LOGGER)

    def elsewhere() -> None:  # another thread's statements (Airflow's own engine, say)
        with engine.connect() as other:
            for _ in range(20):
                other.execute(sa.text("select 1"))

    try:
        with engine_statements_watched("probe suite", every=0.5), engine.connect() as conn:
            conn.execute(sa.text("select 1"))
            conn.execute(sa.text("select 2"))
            side = threading.Thread(target=elsewhere)
            side.start()
            side.join()
            conn.execute(sa.text("select pg_sleep(1.3)"))
    finally:
        engine.dispose()
    seen = reports(caplog)
    assert seen, seen
    assert all(m.startswith("probe suite: running for") for m in seen)
    done = [int(re.search(r"(\d+) queries done", m).group(1)) for m in seen]
    assert max(done) < 20, seen  # the other thread's 20 are not counted
    assert any("the current one for" in m for m in seen), seen


def test_a_long_copy_out_reports_the_rows_sent(db, caplog, monkeypatch):
    from include import config
    from include.db.bulk import copy_out

    monkeypatch.setattr(config, "SQL_PROGRESS_SECONDS", 0.2)
    caplog.set_level(logging.INFO, logger=WATCH_LOGGER)
    db.execute("set work_mem = '64kB'")
    try:
        frame = copy_out(db, "select g, md5(g::text) as h from generate_series(1, 1500000) g order by h")
    finally:
        db.execute("reset work_mem")
    assert len(frame) == 1_500_000
    seen = reports(caplog)
    assert seen and all(m.startswith("copy out of (select g, md5(g::text) as h from") for m in seen), seen
    assert any("copy: " in m and " rows" in m for m in seen), seen
