"""The CeleryExecutor deployment of docker-compose.yaml, run on loopback without Docker.

docker-compose.yaml is the definition: this module reads its Airflow services (command,
environment, volumes) and starts the same processes with the same settings. It changes only what
a container gives a process and a plain machine does not, each listed with its reason in
LOOPBACK_ONLY (tests/unit/test_docker_compose.py checks that nothing else differs):

- Every service has a folder of its own as AIRFLOW_HOME (a container's /opt/airflow). Every
  volume of the compose file is a symlink in it: the project's folders for the bind mounts
  (`./dags`, `./include`, ...), one folder of the stack per named volume (`airflow-config`,
  `airflow-logs`, `pipeline-local`), shared by all services as Docker shares them. What is not a
  volume stays private to the service, as in a container: without the shared `AIRFLOW_CONFIG`,
  each service would write an airflow.cfg of its own, with its own fernet key.
- Compose's hosts become loopback addresses: `postgres` (Airflow's metadata) and `warehouse` are
  databases of the embedded PostgreSQL, `redis` is a `redis-server` on a free port,
  `airflow-apiserver:8080` is the api-server on a free port.
- `${VAR}`, `${VAR:-default}`, `${VAR:?message}` are interpolated as compose does, from this
  process's environment, except AIRFLOW_JWT_SECRET: the stack generates one per start, as an
  operator writes one into `.env`.
- The steps of `airflow-init` (the admin's password file, `airflow config list`, which writes the
  shared config file, `airflow db migrate`) run once before the services start, as compose's
  `service_completed_successfully` orders them.
- `airflow-worker` runs twice, as `docker compose up --scale airflow-worker=2` does; each worker
  gets a hostname of its own (a container's), so task instances show which worker ran them.

Processes start in their own session; `stop()` and `kill_tree()` end whole process trees (a task
process runs in a process group of its own, below its worker).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

from include import config

log = logging.getLogger(__name__)

COMPOSE_FILE = config.PROJECT_ROOT / "docker-compose.yaml"
CONTAINER_HOME = "/opt/airflow"  # the image's AIRFLOW_HOME, where compose mounts the volumes
WORKERS = 2
# compose service -> the names of its processes here (the worker scaled to WORKERS).
RUN = {
    "airflow-apiserver": ("airflow-apiserver",),
    "airflow-scheduler": ("airflow-scheduler",),
    "airflow-dag-processor": ("airflow-dag-processor",),
    "airflow-worker": tuple(f"airflow-worker-{i}" for i in range(1, WORKERS + 1)),
}
INIT_SERVICE = "airflow-init"
# Every other service of the compose file, and what stands in for it.
NOT_RUN = {
    "airflow-init": "its steps run once before the services (init())",
    "airflow-triggerer": "no task of the pipeline defers, so nothing needs a triggerer",
    "postgres": "Airflow's metadata database is a database of the embedded PostgreSQL",
    "warehouse": "the warehouse is a database of the embedded PostgreSQL",
    "redis": "redis-server (Debian package; `make redis` installs it) on a free loopback port",
}
# The interpolation variable the stack provides (an operator sets it in .env).
JWT_SECRET_VARIABLE = "AIRFLOW_JWT_SECRET"
HOSTNAME_MODULE = "container_hostname"  # written into each service's home: its hostname
# What only this loopback stack sets, and why. Anything else a service gets from the compose
# file (translated addresses and paths) or is a plain variable of this process's environment.
LOOPBACK_ONLY = {
    "AIRFLOW_HOME": "the image sets /opt/airflow; here each service's own folder",
    "AIRFLOW__API__HOST": "compose publishes the container's 8080; here the api-server listens on loopback",
    "AIRFLOW__API__PORT": "a free port instead of 8080",
    "AIRFLOW__API__WORKERS": "1 api-server worker process on a small machine (the image's default is 4)",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "the health check (compose: curl :8974/health) on loopback",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": "a free port instead of 8974",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "each worker serves its logs on a port of its own (a container has its own 8793)",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "a container's hostname: each service reads it from its own home's container_hostname.py",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20 s instead of 300 s: the task of a killed worker is failed (and retried) in seconds",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2 s instead of 10 s, for the same reason",
    "RETRY_DELAY_SECONDS": "2 s instead of 30 s before the first retry (include.config)",
    "PYTHONUNBUFFERED": "service logs are written as they happen",
}
# Arguments only the loopback adds to a compose command ({process} is the process's name).
LOOPBACK_ARGS = {
    # Celery's node name is celery@<hostname>: a container's hostname, as compose's health check
    # (`inspect ping -d celery@$HOSTNAME`) expects; two workers on one host must not share it.
    "airflow-worker": ("--celery-hostname", "celery@{process}"),
}
# The hosts of the compose network, which must all be translated.
COMPOSE_HOSTS = ("postgres", "warehouse", "redis", "airflow-apiserver")
_LEFT_HOST = re.compile(r"(?:@|//)(?:" + "|".join(COMPOSE_HOSTS) + r")[:/]")
# Variables of this process that describe its own places and must not leak into a service.
_PRIVATE_PREFIXES = ("AIRFLOW", "PIPELINE_")
_PRIVATE = {"PYTHONPATH", "TEST_WAREHOUSE_DB"}
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class ComposeError(ValueError):
    """docker-compose.yaml holds something this stack cannot translate."""


# --- reading docker-compose.yaml -----------------------------------------------------------------


def compose_spec(path: Path = COMPOSE_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's variable substitution: `${VAR}`, `${VAR:-default}` / `${VAR-default}`,
    `${VAR:?message}` / `${VAR?message}` (required), `$$` for a literal `$`."""

    def substitute(match: re.Match) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        present = name in variables
        value = variables.get(name, "")
        empty = present and value == ""
        if op in (":-", "-"):
            return value if present and not (op == ":-" and empty) else arg
        if op in (":?", "?"):
            if not present or (op == ":?" and empty):
                raise ComposeError(f"docker-compose.yaml requires {name}: {arg}")
            return value
        return value

    parts = value.split("$$")
    return "$".join(_INTERPOLATION.sub(substitute, part) for part in parts)


def service_spec(spec: dict, service: str) -> dict:
    try:
        return spec["services"][service]
    except KeyError:
        raise ComposeError(f"docker-compose.yaml has no service {service!r}") from None


def compose_environment(spec: dict, service: str) -> dict[str, str]:
    """The service's `environment` (anchors merged), values as text."""
    env = service_spec(spec, service).get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): _text(v) for k, v in env.items()}


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def compose_command(spec: dict, service: str) -> list[str]:
    """The service's `command` as `airflow` arguments (the image's entrypoint runs airflow)."""
    command = service_spec(spec, service).get("command")
    words = command.split() if isinstance(command, str) else list(command or [])
    if not words:
        raise ComposeError(f"docker-compose.yaml: service {service} has no command")
    return words


def compose_volumes(spec: dict, service: str) -> list[tuple[str, str]]:
    """(source, target) of the service's volumes; source is a path (bind) or a volume name."""
    volumes = []
    for entry in service_spec(spec, service).get("volumes") or []:
        source, target = entry.split(":")[:2]
        volumes.append((source, target))
    return volumes


# --- translating to loopback ----------------------------------------------------------------------


@dataclass(frozen=True)
class Places:
    """Where the compose services' counterparts live on this machine."""

    run_dir: Path
    pg: str  # user@host:port of the embedded server
    metadata_db: str
    warehouse_db: str
    redis_port: int
    api_port: int
    health_port: int
    log_ports: dict[str, int] = field(default_factory=dict)  # worker -> its log server port

    def home(self, process: str) -> Path:
        return self.run_dir / "containers" / process

    def volume(self, name: str) -> Path:
        return self.run_dir / "volumes" / name


def translate(value: str, places: Places, home: Path) -> str:
    """An interpolated compose value with the compose network's addresses and the container's
    paths replaced by their loopback counterparts; fails when a compose host is left."""
    rewrites = (
        (r"//[^/@\s]*@postgres(?::5432)?/airflow$", f"//{places.pg}/{places.metadata_db}"),
        (r"//[^/@\s]*@warehouse(?::5432)?/dwh$", f"//{places.pg}/{places.warehouse_db}"),
        (r"//([^/@\s]*@)?redis:6379/", rf"//\g<1>127.0.0.1:{places.redis_port}/"),
        (r"//airflow-apiserver:8080/", f"//127.0.0.1:{places.api_port}/"),
        (r"^" + re.escape(CONTAINER_HOME) + r"(?=/|$)", str(home).replace("\\", "\\\\")),
    )
    for pattern, replacement in rewrites:
        value = re.sub(pattern, replacement, value)
    if _LEFT_HOST.search(value):
        raise ComposeError(f"no loopback address for {value!r}: extend celery_stack.translate")
    return value


def loopback_settings(compose_service: str, process: str, places: Places) -> dict[str, str]:
    """The values of LOOPBACK_ONLY for one process."""
    settings = {
        "AIRFLOW_HOME": str(places.home(process)),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(places.api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(places.health_port),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(places.log_ports.get(process, 0)),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{HOSTNAME_MODULE}.hostname",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
        "RETRY_DELAY_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    if compose_service != "airflow-worker":
        settings.pop("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT")
    assert set(settings) <= set(LOOPBACK_ONLY), set(settings) - set(LOOPBACK_ONLY)
    return settings


def inherited_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what names its own Airflow, places and PYTHONPATH."""
    environ = dict(os.environ if environ is None else environ)
    return {k: v for k, v in environ.items() if not k.startswith(_PRIVATE_PREFIXES) and k not in _PRIVATE}


def service_environment(
    spec: dict, compose_service: str, process: str, places: Places, variables: dict[str, str]
) -> dict[str, str]:
    """The environment of one process: inherited basics, the compose service's environment
    interpolated and translated, then LOOPBACK_ONLY."""
    home = places.home(process)
    env = inherited_environment()
    for name, value in compose_environment(spec, compose_service).items():
        env[name] = translate(interpolate(value, variables), places, home)
    env.update(loopback_settings(compose_service, process, places))
    return env


def process_command(spec: dict, compose_service: str, process: str) -> list[str]:
    extra = [arg.format(process=process) for arg in LOOPBACK_ARGS.get(compose_service, ())]
    return [_airflow_bin(), *compose_command(spec, compose_service), *extra]


def make_home(spec: dict, compose_service: str, process: str, places: Places) -> Path:
    """The process's /opt/airflow: a folder of its own, a symlink per compose volume, and the
    module its hostname comes from."""
    home = places.home(process)
    home.mkdir(parents=True, exist_ok=True)
    for source, target in compose_volumes(spec, compose_service):
        if not target.startswith(CONTAINER_HOME + "/"):
            raise ComposeError(f"{compose_service}: volume {source}:{target} is outside {CONTAINER_HOME}")
        if source.startswith((".", "/")):
            real = (config.PROJECT_ROOT / source).resolve()
        else:
            real = places.volume(source)
            real.mkdir(parents=True, exist_ok=True)
        link = home / target[len(CONTAINER_HOME) + 1 :]
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(real, target_is_directory=True)
    (home / f"{HOSTNAME_MODULE}.py").write_text(
        f'"""This container\'s hostname (written by tests.e2e.support.celery_stack)."""\n\n\n'
        f"def hostname() -> str:\n    return {process!r}\n",
        encoding="utf-8",
    )
    return home


# --- processes --------------------------------------------------------------------------------


def _airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_tree(pid: int, sig: int = signal.SIGKILL, timeout: float = 15) -> list[int]:
    """Send `sig` to the process and every descendant (a task process sits in a process group
    of its own below its worker, so killpg misses it); wait until they are gone; returns their
    pids. A child of this process is reaped."""
    procs = process_tree(pid)
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    if alive:
        raise RuntimeError(f"still alive {timeout:.0f} s after signal {sig}: {[p.pid for p in alive]}")
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return [p.pid for p in procs]


@dataclass
class CeleryStack:
    """The running stack: redis, api-server, scheduler, dag-processor, the workers."""

    places: Places
    spec: dict
    envs: dict[str, dict[str, str]] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.places.run_dir

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.places.api_port}"

    @property
    def broker_url(self) -> str:
        return self.envs["airflow-scheduler"]["AIRFLOW__CELERY__BROKER_URL"]

    @property
    def workers(self) -> tuple[str, ...]:
        return RUN["airflow-worker"]

    def client(self):
        from tests.e2e.support.api import AirflowClient

        return AirflowClient(self.base_url)

    def log_path(self, process: str) -> Path:
        return self.run_dir / "logs" / f"{process}.log"

    def log_tail(self, process: str, chars: int = 3000) -> str:
        path = self.log_path(process)
        return path.read_text(errors="replace")[-chars:] if path.is_file() else ""

    def spawn(self, process: str) -> int:
        with self.log_path(process).open("ab") as out:
            proc = subprocess.Popen(
                self.commands[process],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.envs[process],
                cwd=str(self.envs[process].get("AIRFLOW_HOME", self.run_dir)),
                start_new_session=True,
            )
        self.pids[process] = proc.pid
        (self.run_dir / "pids" / f"{process}.pid").write_text(str(proc.pid))
        log.info("started %s (pid %d): %s", process, proc.pid, " ".join(self.commands[process][1:]))
        return proc.pid

    def is_running(self, process: str) -> bool:
        pid = self.pids.get(process)
        if pid is None:
            return False
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = 0
        return done != pid and psutil.pid_exists(pid)

    def kill(self, process: str) -> list[int]:
        """SIGKILL the process and everything below it (a container killed); returns the pids."""
        pids = kill_tree(self.pids.pop(process))
        (self.run_dir / "pids" / f"{process}.pid").unlink(missing_ok=True)
        log.warning("SIGKILLed %s and its %d descendants: %s", process, len(pids) - 1, pids)
        return pids

    def stop(self, grace: float = 10) -> None:
        """Stop every process: SIGTERM to each (Celery's warm shutdown, uvicorn's), then, after
        `grace` seconds, SIGKILL to whatever is left of their trees (task processes included)."""
        trees = {process: process_tree(pid) for process, pid in self.pids.items()}
        for process in reversed(list(trees)):  # workers first, redis last
            for proc in trees[process][:1]:
                try:
                    proc.send_signal(signal.SIGTERM)
                except psutil.NoSuchProcess:
                    pass
        psutil.wait_procs([tree[0] for tree in trees.values() if tree], timeout=grace)
        for process, tree in trees.items():
            for proc in tree:
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(tree, timeout=grace)
            try:
                os.waitpid(self.pids[process], os.WNOHANG)
            except ChildProcessError:
                pass
            (self.run_dir / "pids" / f"{process}.pid").unlink(missing_ok=True)
            log.info("stopped %s (pid %d)", process, self.pids[process])
        self.pids.clear()

    # --- readiness ---------------------------------------------------------------------------
    def ping_workers(self, timeout: float = 2.0) -> set[str]:
        """Celery node names answering a ping (compose's worker health check)."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            replies = app.control.ping(timeout=timeout) or []
        finally:
            app.close()
        return {name for reply in replies for name in reply}

    def scheduler_healthy(self) -> bool:
        """compose's scheduler health check: GET /health on the health check server."""
        import httpx

        try:
            return (
                httpx.get(f"http://127.0.0.1:{self.places.health_port}/health", timeout=3).status_code == 200
            )
        except httpx.HTTPError:
            return False

    def wait_until_ready(self, timeout: float = 240) -> None:
        """The api-server answers (and the admin logs in), the scheduler is healthy, every worker
        answers a ping."""
        client = self.client()
        deadline = time.monotonic() + timeout
        wanted = {f"celery@{w}" for w in self.workers}
        waiting, process = "the api-server", "airflow-apiserver"
        try:
            while time.monotonic() < deadline:
                dead = [p for p in self.pids if not self.is_running(p)]
                if dead:
                    raise RuntimeError(f"{dead} exited at start; log:\n{self.log_tail(dead[0])}")
                if not client.healthy():
                    waiting, process = "the api-server", "airflow-apiserver"
                elif not self.scheduler_healthy():
                    waiting, process = "the scheduler's health check", "airflow-scheduler"
                elif missing := wanted - self.ping_workers():
                    waiting, process = f"workers {sorted(missing)}", self.workers[0]
                else:
                    client.login()
                    return
                time.sleep(1)
        finally:
            client.close()
        raise RuntimeError(f"{waiting} not ready within {timeout:.0f} s:\n{self.log_tail(process)}")


# --- start ------------------------------------------------------------------------------------


def redis_server() -> str | None:
    return shutil.which("redis-server")


def start_redis(stack: CeleryStack) -> None:
    folder = stack.run_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    stack.commands["redis"] = [
        redis_server() or "redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(stack.places.redis_port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(folder),
    ]
    stack.envs["redis"] = inherited_environment()
    stack.spawn("redis")
    import redis

    client = redis.Redis(host="127.0.0.1", port=stack.places.redis_port, socket_timeout=1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return
        except redis.RedisError:
            time.sleep(0.2)
    raise RuntimeError(
        f"redis-server did not answer on port {stack.places.redis_port}:\n{stack.log_tail('redis')}"
    )


def recreate_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    from tools import embedded

    if name in {config.METADATA_DB, config.WAREHOUSE_DB}:
        raise ValueError(f"refusing to recreate the project's own database {name!r}")
    with psycopg.connect(f"{embedded.ensure_running()}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def init(stack: CeleryStack) -> None:
    """What compose's airflow-init does: the admin's password file in the shared config volume,
    the shared config file (`airflow config list` writes it when missing), `airflow db migrate`."""
    from tools import runtime

    env = stack.envs[INIT_SERVICE]
    runtime.write_admin_password(
        password=env.get("AIRFLOW_ADMIN_PASSWORD", config.AIRFLOW_ADMIN_PASSWORD),
        path=Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]),
    )
    started = time.monotonic()
    for args in (["config", "list"], ["db", "migrate"]):
        subprocess.run(
            [_airflow_bin(), *args],
            env=env,
            cwd=env["AIRFLOW_HOME"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    if not Path(env["AIRFLOW_CONFIG"]).is_file():
        raise RuntimeError(f"airflow config list did not write the shared config {env['AIRFLOW_CONFIG']}")
    log.info("airflow-init: config and metadata database ready in %.1f s", time.monotonic() - started)


def plan(run_dir: Path, metadata_db: str, warehouse_db: str, spec: dict | None = None) -> CeleryStack:
    """The stack's places, environments and commands (nothing started)."""
    from tests.e2e.support import services
    from tools import embedded

    spec = spec or compose_spec()
    api_port = services.free_port(None)
    taken = {api_port}

    def another(preferred: int | None = None) -> int:
        port = services.free_port(preferred)
        while port in taken:
            port = services.free_port(None)
        taken.add(port)
        return port

    redis_port = another(int(os.environ.get("E2E_REDIS_PORT", "56379")))
    health_port = another()
    log_ports = {w: another(8890 + i) for i, w in enumerate(RUN["airflow-worker"], start=1)}
    places = Places(
        run_dir=run_dir,
        pg=embedded.base_url().split("://", 1)[1],
        metadata_db=metadata_db,
        warehouse_db=warehouse_db,
        redis_port=redis_port,
        api_port=api_port,
        health_port=health_port,
        log_ports=log_ports,
    )
    variables = {**os.environ, JWT_SECRET_VARIABLE: secrets.token_hex(32)}
    stack = CeleryStack(places=places, spec=spec)
    for compose_service, processes in {**RUN, INIT_SERVICE: (INIT_SERVICE,)}.items():
        for process in processes:
            stack.envs[process] = service_environment(spec, compose_service, process, places, variables)
            if compose_service != INIT_SERVICE:
                stack.commands[process] = process_command(spec, compose_service, process)
    return stack


def start(run_dir: Path, metadata_db: str, warehouse_db: str, timeout: float = 240) -> CeleryStack:
    """Fresh databases, redis, airflow-init's steps, then the services; waits until all are ready."""
    if redis_server() is None:
        raise RuntimeError("redis-server is not installed: `make redis` (as root) installs it")
    if run_dir.exists():
        shutil.rmtree(run_dir)
    (run_dir / "logs").mkdir(parents=True)
    (run_dir / "pids").mkdir()
    stack = plan(run_dir, metadata_db, warehouse_db)
    for compose_service, processes in {INIT_SERVICE: (INIT_SERVICE,), **RUN}.items():
        for process in processes:
            make_home(stack.spec, compose_service, process, stack.places)
    started = time.monotonic()
    recreate_database(metadata_db)
    recreate_database(warehouse_db)
    try:
        start_redis(stack)
        init(stack)
        for processes in RUN.values():
            for process in processes:
                stack.spawn(process)
        stack.wait_until_ready(timeout)
    except BaseException:
        stack.stop()
        raise
    log.info("CeleryExecutor stack up in %.1f s (folder %s)", time.monotonic() - started, run_dir)
    return stack
