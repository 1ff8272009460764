"""A lock that holds a task at a known point for as long as a test wants, without touching its code.

`LockGate(uri, "published.recommendation_metrics")` takes a SHARE lock on the table (reads go on;
every insert, update and delete waits). The first task that writes the table then blocks inside
its transaction, after the work it did before the write: it is running, on a known worker, until
the gate opens. `waiter()` finds the blocked backend and the local process that owns its
connection (the task's process), so a test can kill exactly that process's worker.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tests.e2e.support.faults import client_pid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Waiter:
    backend_pid: int
    client_pid: int | None  # the local process owning the waiting connection
    query: str


class LockGate:
    def __init__(self, uri: str, relation: str, mode: str = "share") -> None:
        if mode not in {"share", "exclusive", "access exclusive"}:
            raise ValueError(f"lock mode {mode!r}: share, exclusive or access exclusive")
        self.relation = relation
        self.conn = psycopg.connect(uri)
        schema, name = relation.split(".", 1)
        self.conn.execute(sql.SQL("lock table {} in " + mode + " mode").format(sql.Identifier(schema, name)))
        self.pid = self.conn.info.backend_pid
        self._observer = psycopg.connect(uri, autocommit=True)
        log.warning("gate closed: %s locked in %s mode by backend %d", relation, mode, self.pid)

    def waiters(self) -> list[Waiter]:
        rows = self._observer.execute(
            "select pid, client_port, query from pg_stat_activity where %s = any(pg_blocking_pids(pid))",
            (self.pid,),
        ).fetchall()
        return [Waiter(pid, client_pid(port) if port else None, query) for pid, port, query in rows]

    def waiter(self, timeout: float = 300, poll: float = 0.2) -> Waiter:
        """The first backend that waits for the gate (with its client process known)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for waiter in self.waiters():
                if waiter.client_pid:
                    log.warning(
                        "waiting at the gate: backend %d (client pid %d): %s",
                        waiter.backend_pid,
                        waiter.client_pid,
                        waiter.query[:200],
                    )
                    return waiter
            time.sleep(poll)
        raise TimeoutError(f"no session waited for the lock on {self.relation} within {timeout:.0f} s")

    def open(self) -> None:
        """Release the lock (the waiting statement proceeds); idempotent."""
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()
            log.warning("gate open: %s unlocked", self.relation)
        if not self._observer.closed:
            self._observer.close()

    def __enter__(self) -> LockGate:
        return self

    def __exit__(self, *exc) -> None:
        self.open()
