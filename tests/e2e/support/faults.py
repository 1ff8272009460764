"""Fault injection for the operations tests: kill the process of a running COPY, cut one
database's connections, restart the whole database server, and see which services live through it.

Two ways for "the database went away":
- `block_database()` / `unblock_database()` cut ONE database: new connections are refused and every
  open one is terminated, for a few seconds. A task sees what a restart does to it (its connection
  drops mid-transaction, reconnecting fails until the database is back); the server and the other
  databases (Airflow's metadata, other developers' test databases) are untouched.
- `restart_server()` restarts the real server (fast shutdown: every connection of every database
  drops, Airflow's metadata database included). Only on a server that is yours (a checkout's
  own embedded server, e.g. EMBEDDED_PG_PORT=55434). `service_fates()` then tells which Airflow
  services survived it. In Airflow 3.3 the api-server does (pool_pre_ping); the scheduler and
  the dag-processor exit with Airflow's defaults (their loops treat a lost metadata database as
  fatal, by design: a process supervisor or on-call starts them again) and usually ride out a
  short restart with tools.runtime's max_db_retries=20. See docs/runbook.md#database-restart.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import psutil
import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from tests.e2e.support.api import AirflowClient
    from tests.e2e.support.services import Services

log = logging.getLogger(__name__)

SURVIVED, EXITED, HUNG = "survived", "exited", "hung"
# Where /api/v2/monitor/health reports each service's latest heartbeat.
HEARTBEATS = {
    "scheduler": ("scheduler", "latest_scheduler_heartbeat"),
    "dag-processor": ("dag_processor", "latest_dag_processor_heartbeat"),
}


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


def foreign_clients(conn: psycopg.Connection, own_databases: set[str]) -> dict[str, int]:
    """Client connections to databases other than `own_databases` ({database: count}), leaving
    out this process's own (e.g. the test session's pooled connections). Anything here means
    someone else uses the server: do not restart it."""
    own_ports = [c.laddr.port for c in psutil.Process().net_connections(kind="tcp") if c.laddr]
    rows = conn.execute(
        "select datname, count(*) from pg_stat_activity"
        " where backend_type = 'client backend' and pid <> pg_backend_pid()"
        " and not (datname = any(%s)) and not (coalesce(client_port, -1) = any(%s))"
        " group by datname order by datname",
        (sorted(own_databases), own_ports),
    ).fetchall()
    return {name: int(count) for name, count in rows}


@dataclass(frozen=True)
class Restart:
    seconds: float  # from the stop request until the new server accepted connections
    started_at: datetime  # pg_postmaster_start_time() of the new server (UTC, server clock)


def restart_server(down_seconds: float = 3) -> Restart:
    """Stop the embedded server (fast shutdown: every connection drops), wait, start it again.
    Affects every database of the server: only where the server is yours."""
    from tools import embedded

    started = time.monotonic()
    if not embedded.stop():
        raise RuntimeError("the embedded server was not running: nothing to restart")
    log.warning("embedded PostgreSQL stopped (fast shutdown); starting it again in %.0f s", down_seconds)
    time.sleep(down_seconds)
    base = embedded.ensure_running()
    with psycopg.connect(f"{base}/postgres") as conn:
        row = conn.execute("select pg_postmaster_start_time()").fetchone()
    assert row is not None
    restart = Restart(seconds=time.monotonic() - started, started_at=row[0])
    log.warning("embedded PostgreSQL back after %.1f s (started at %s)", restart.seconds, restart.started_at)
    return restart


def service_fates(
    services: Services, client: AirflowClient, since: datetime, timeout: float = 60, poll: float = 1
) -> dict[str, str]:
    """Which services lived through a restart of the metadata database that ended at `since`:
    {service: "survived" | "exited" | "hung"}. A service survived when it has shown it works with
    the new server: the api-server answers /api/v2/monitor/health with a healthy metadata
    database, the scheduler and the dag-processor have a heartbeat after `since`. It exited when
    its process ended. It hangs when neither happened within `timeout` seconds (seen once: the
    scheduler's loop failed, then its process waited forever in LocalExecutor.end())."""
    fates: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    health: dict | None = None
    while len(fates) < len(services.pids) and time.monotonic() < deadline:
        health = _health(client)
        for service in services.pids:
            if service in fates:
                continue
            if not services.is_running(service):
                fates[service] = EXITED
            elif health is None:
                continue
            elif service in HEARTBEATS:
                section, key = HEARTBEATS[service]
                beat = (health.get(section) or {}).get(key)
                if beat and datetime.fromisoformat(beat) > since:
                    fates[service] = SURVIVED
            elif health.get("metadatabase", {}).get("status") == "healthy":
                fates[service] = SURVIVED
        if len(fates) < len(services.pids):
            time.sleep(poll)
    for service in services.pids:
        if service not in fates:
            fates[service] = HUNG
            log.warning(
                "%s: process alive, no heartbeat %.0f s after the restart (health: %s)",
                service,
                timeout,
                health,
            )
    log.warning("after the database restart: %s", fates)
    return fates


def _health(client: AirflowClient) -> dict | None:
    """/api/v2/monitor/health as JSON, or None when the api-server does not answer."""
    import httpx

    try:
        response = client.http.get("/api/v2/monitor/health", timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None
