"""Start and stop a private set of real Airflow services (api-server, scheduler, dag-processor).

`make airflow` (tools.cli.airflow_services) runs the services of the project's own Airflow home.
The end-to-end tests need the same services, but isolated: their own Airflow home, metadata
database, API port and warehouse database, so they never touch a developer's running Airflow.
Every process is started in its own session and stopped by process group id.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from include import config
from tests.e2e.support.api import AirflowClient
from tools import cli, runtime

log = logging.getLogger(__name__)

# The chain of DAGs, each scheduled on an asset the one before emits.
CHAIN = ("ingest_ecommerce", "validate_and_clean", "segment_customers", "recommend_products", "publish_marts")


def pipeline_dags(dags_dir: Path = config.PROJECT_ROOT / "dags") -> list[str]:
    """The DAGs one trigger of `ingest_ecommerce` runs, in order: tools.cli.PIPELINE merged
    with CHAIN (publish_marts last), cut at the first DAG whose file is not in dags/ yet (the
    DAGs after it would never be triggered)."""
    ordered = list(dict.fromkeys([*cli.PIPELINE, *CHAIN]))
    ordered.sort(key=lambda d: CHAIN.index(d) if d in CHAIN else CHAIN.index("publish_marts") - 0.5)
    present = []
    for dag_id in ordered:
        if not (dags_dir / f"{dag_id}.py").is_file():
            break
        present.append(dag_id)
    return present


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = config.AIRFLOW_API_PORT) -> int:
    """`preferred` when nothing listens on it, else a port the kernel picks."""
    if preferred and port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _other_free_port(taken: int) -> int:
    while (port := free_port(None)) == taken:
        pass
    return port


@dataclass
class Services:
    """Running services: their URL, environment, folder (logs, pids, Airflow home) and pids."""

    port: int
    env: dict[str, str]
    run_dir: Path
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def airflow_home(self) -> Path:
        return Path(self.env["AIRFLOW_HOME"])

    def client(self) -> AirflowClient:
        return AirflowClient(self.base_url)

    def log_tail(self, service: str, chars: int = 3000) -> str:
        path = self.run_dir / "logs" / f"{service}.log"
        return path.read_text(errors="replace")[-chars:] if path.is_file() else ""

    def stop(self) -> None:
        """Stop every service this object started (its whole process group: task processes too)."""
        for service, pid in list(self.pids.items()):
            stop_group(pid)
            log.info("stopped %s (pid %d)", service, pid)
            (self.run_dir / "pids" / f"{service}.pid").unlink(missing_ok=True)
            del self.pids[service]

    def spawn(self, service: str) -> int:
        """Start one service (`airflow <service>`) in its own session; returns its pid."""
        with (self.run_dir / "logs" / f"{service}.log").open("ab") as out:
            proc = subprocess.Popen(
                [_airflow_bin(), service],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=str(config.PROJECT_ROOT),
                start_new_session=True,
            )
        self.pids[service] = proc.pid
        (self.run_dir / "pids" / f"{service}.pid").write_text(str(proc.pid))
        log.info("started %s (pid %d)", service, proc.pid)
        return proc.pid

    def is_running(self, service: str) -> bool:
        pid = self.pids.get(service)
        return pid is not None and cli._alive(pid) and not _exited(pid)

    def exited(self) -> list[str]:
        """The services whose process has ended (e.g. after losing the metadata database)."""
        return [service for service in self.pids if not self.is_running(service)]

    def restart(self, services: list[str], timeout: float = 180) -> None:
        """What on-call does with a service that died or hangs: stop what is left of it (its
        process group: a hung leader, task processes), start it again, wait until the API answers.
        (`make airflow` starts the services whose pid is gone; a hung one is killed first.)"""
        for service in services:
            log.warning("restarting %s (pid %d)", service, self.pids[service])
            stop_group(self.pids[service], grace=5)
            self.spawn(service)
        if services:
            _wait_until_up(self, timeout)


def stop_group(pid: int, grace: float = 10) -> None:
    """SIGTERM the process group `pid` leads, SIGKILL it after `grace` seconds. The group is
    signalled even when its leader has exited: task processes it started may remain."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        _exited(pid)  # reap the leader if it is our child
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not cli._alive(pid) or _exited(pid):
            break
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)  # leftovers of the group (task processes), or a stuck leader
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)  # reap it when it is our child
    except ChildProcessError:
        pass


def service_env(
    run_dir: Path, port: int, warehouse_db: str, metadata_db: str, **extra: str
) -> dict[str, str]:
    """The environment of the private services: this process's, with its own Airflow home,
    metadata database, API port and warehouse database."""
    from tools import embedded

    base = embedded.base_url()
    home = run_dir / "airflow_home"
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            runtime.METADATA_ENV: "postgresql+psycopg2://" + f"{base}/{metadata_db}".split("://", 1)[1],
            config.DWH_CONN_ENV: f"{base}/{warehouse_db}",
            runtime.PASSWORDS_ENV: str(home / "simple_auth_manager_passwords.json"),
            "AIRFLOW_API_PORT": str(port),
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            # The scheduler serves task logs on 8793 by default: keep it off the API port.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_other_free_port(port)),
            "AIRFLOW__CORE__DAGS_FOLDER": str(config.PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # New DAG files (the chain grows) are picked up within seconds, not five minutes.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "15",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "RETRY_DELAY_SECONDS": os.environ.get("RETRY_DELAY_SECONDS", "2"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def recreate_metadata_db(env: dict[str, str], metadata_db: str) -> None:
    """A fresh Airflow metadata database on the embedded server, migrated (about a minute)."""
    import psycopg
    from psycopg import sql

    from tools import embedded

    if metadata_db in {config.METADATA_DB, config.WAREHOUSE_DB}:
        raise ValueError(f"refusing to recreate the project's own database {metadata_db!r}")
    with psycopg.connect(f"{embedded.ensure_running()}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(metadata_db)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(metadata_db)))
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run(
        [_airflow_bin(), "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    log.info("metadata database %s migrated in %.1f s", metadata_db, time.monotonic() - started)


def _airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def start(run_dir: Path, env: dict[str, str], timeout: float = 180) -> Services:
    """Start api-server, scheduler and dag-processor with `env`; wait until the API answers
    and the admin can log in. Logs: <run_dir>/logs/<service>.log; pids: <run_dir>/pids/."""
    port = int(env["AIRFLOW__API__PORT"])
    if not port_is_free(port):
        raise RuntimeError(f"port {port} is taken: set AIRFLOW_API_PORT to a free port")
    runtime.write_admin_password(path=Path(env[runtime.PASSWORDS_ENV]))
    services = Services(port=port, env=env, run_dir=run_dir)
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    (run_dir / "pids").mkdir(parents=True, exist_ok=True)
    try:
        for service in cli.SERVICES:
            services.spawn(service)
        _wait_until_up(services, timeout)
    except BaseException:
        services.stop()
        raise
    return services


def _wait_until_up(services: Services, timeout: float) -> None:
    client = services.client()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            dead = [s for s, pid in services.pids.items() if not cli._alive(pid) or _exited(pid)]
            if dead:
                raise RuntimeError(f"{dead} exited at start; log:\n{services.log_tail(dead[0])}")
            if client.healthy():
                client.login()
                return
            time.sleep(1)
    finally:
        client.close()
    raise RuntimeError(
        f"the api-server did not answer within {timeout:.0f} s:\n{services.log_tail('api-server')}"
    )


def _exited(pid: int) -> bool:
    """True (and reaped) when our child `pid` has exited."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid
