"""Fault injection for the operations tests: kill the process of a running COPY, take a database
away (as a server restart does, for one database only), and bring it back.

The server is shared (Airflow's metadata, other developers' test databases), so "the database
restarted" is simulated on one database: new connections are refused and every open connection
is terminated, for a few seconds. A task sees exactly what a restart does to it: its connection
drops mid-transaction, and reconnecting fails until the database is back.
`restart_server()` restarts the real server when the whole machine is yours.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass

import psutil
import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunningCopy:
    backend_pid: int  # the server process
    client_pid: int | None  # the local process whose connection runs the COPY
    rows: int  # tuples processed so far
    relation: str


def running_copies(conn: psycopg.Connection, database: str) -> list[RunningCopy]:
    """COPYs in progress in `database`, with the local process that sends each (via its port)."""
    rows = conn.execute(
        "select p.pid, a.client_port, p.tuples_processed, p.relid::regclass::text"
        " from pg_stat_progress_copy p join pg_stat_activity a using (pid) where p.datname = %s",
        (database,),
    ).fetchall()
    return [RunningCopy(pid, client_pid(port) if port else None, int(n), rel) for pid, port, n, rel in rows]


def client_pid(local_port: int) -> int | None:
    """The local process owning the TCP connection whose local port is `local_port`."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == local_port and conn.pid:
            return conn.pid
    return None


def wait_for_copy(
    conn: psycopg.Connection, database: str, min_rows: int = 1, timeout: float = 300, poll: float = 0.1
) -> RunningCopy:
    """Wait until a COPY in `database` has processed at least `min_rows` rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for copy in running_copies(conn, database):
            if copy.rows >= min_rows and copy.client_pid:
                return copy
        time.sleep(poll)
    raise TimeoutError(f"no COPY with {min_rows}+ rows in database {database} within {timeout:.0f} s")


def sigkill(pid: int) -> None:
    log.warning("SIGKILL to pid %d (%s)", pid, " ".join(psutil.Process(pid).cmdline())[:200])
    os.kill(pid, signal.SIGKILL)


def block_database(admin: psycopg.Connection, database: str) -> int:
    """Refuse new connections to `database` and terminate the open ones; returns how many.
    `admin` is an autocommit connection to another database of the server."""
    admin.execute(sql.SQL("alter database {} allow_connections false").format(sql.Identifier(database)))
    row = admin.execute(
        "select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
        (database,),
    ).fetchone()
    terminated = int(row[0]) if row else 0
    log.warning("database %s: connections refused, %d terminated", database, terminated)
    return terminated


def unblock_database(admin: psycopg.Connection, database: str) -> None:
    admin.execute(sql.SQL("alter database {} allow_connections true").format(sql.Identifier(database)))
    log.warning("database %s: accepting connections again", database)


def restart_server(down_seconds: float = 3) -> None:
    """Stop the embedded server (fast shutdown: every connection drops), wait, start it again.
    Affects every database of the server: only where the machine is yours."""
    from include.db import embedded

    embedded.stop()
    time.sleep(down_seconds)
    embedded.ensure_running()
