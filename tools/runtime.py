"""Prepare the local runtime: the database server, the two databases, Airflow's environment.

Used by `make demo|test|airflow` (through tools.cli) and by the test suite. The environment
must be set before Airflow is imported: Airflow reads its settings at import time.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from include import config

log = logging.getLogger(__name__)

METADATA_ENV = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
PASSWORDS_ENV = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
JWT_SECRET_ENV = "AIRFLOW__API_AUTH__JWT_SECRET"


def uses_embedded_server() -> bool:
    """The embedded server is needed unless both databases are configured elsewhere by the user."""
    from urllib.parse import urlsplit

    embedded = (config.EMBEDDED_PG_HOST, config.EMBEDDED_PG_PORT)
    if not os.environ.get(config.DWH_CONN_ENV) or not os.environ.get(METADATA_ENV):
        return True
    from include.db.connection import warehouse_params

    dwh = warehouse_params()  # URI or JSON form, parsed by Airflow
    metadata = urlsplit(os.environ[METADATA_ENV])
    return (dwh.host, dwh.port) == embedded or (metadata.hostname, metadata.port) == embedded


def configure_environment(warehouse_db: str | None = None) -> dict[str, str]:
    """Set (in os.environ, without overriding the user's values) what Airflow and the project need.

    Returns the variables it set. `warehouse_db` picks another database on the embedded server
    (the tests use their own).
    """
    from tools import embedded

    root = config.PROJECT_ROOT
    base = embedded.base_url()
    wanted = {
        "AIRFLOW_HOME": str(config.AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{config.AIRFLOW_ADMIN_USER}:admin",
        # The login is deterministic: prepare() writes AIRFLOW_ADMIN_PASSWORD into this file, which
        # SimpleAuthManager reads instead of generating a random password.
        PASSWORDS_ENV: str(config.AIRFLOW_HOME / "simple_auth_manager_passwords.json"),
        "AIRFLOW__API__PORT": str(config.AIRFLOW_API_PORT),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{config.AIRFLOW_API_PORT}/execution/",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # A restart of the database server (every connection drops, new ones are refused for a few
        # seconds): pooled connections are tested before use (pre-ping, Airflow's default, stated
        # here because the recovery relies on it), and the DB calls Airflow retries (the busiest
        # of the scheduler's and dag-processor's loops) are retried 20 times (random wait of up to
        # 5 s: ~40 s in all) instead of 3, so those services usually ride out a short restart
        # instead of exiting. Measured: docs/runbook.md#database-restart; tests/e2e/test_faults.py.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_PRE_PING": "True",
        "AIRFLOW__DATABASE__MAX_DB_RETRIES": "20",
        METADATA_ENV: "postgresql+psycopg2://" + f"{base}/{config.METADATA_DB}".split("://", 1)[1],
        config.DWH_CONN_ENV: f"{base}/{warehouse_db or config.WAREHOUSE_DB}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p),
    }
    if JWT_SECRET_ENV not in os.environ:
        # One signing secret for every service (api-server, scheduler, `make serve`): a token
        # from POST /auth/token is then valid everywhere. Secret: never in `applied` or a log.
        os.environ[JWT_SECRET_ENV] = jwt_secret()
    if warehouse_db:  # an explicit database wins over the user's default
        os.environ[config.DWH_CONN_ENV] = wanted.pop(config.DWH_CONN_ENV)
    applied = {}
    for key, value in wanted.items():
        if key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    return applied


def jwt_secret(path: Path | None = None) -> str:
    """The JWT signing secret of the local Airflow: generated once into `path` (default
    <AIRFLOW_HOME>/jwt_secret, mode 0600), then read from it."""
    import secrets

    path = path or config.AIRFLOW_HOME / "jwt_secret"
    if not path.is_file() or not path.read_text(encoding="utf-8").strip():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
    path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def prepare(warehouse_db: str | None = None) -> None:
    """Start the embedded server if needed, create both databases, migrate Airflow's metadata."""
    configure_environment(warehouse_db)
    if uses_embedded_server():
        from include.db import connection
        from tools import embedded

        base = embedded.ensure_running()
        for db in {config.METADATA_DB, warehouse_db or config.WAREHOUSE_DB}:
            connection.ensure_database(base, db)
    migrate_airflow()
    write_admin_password()
    from include.db.connection import connect
    from include.db.schema import apply_schema

    with connect() as conn:
        apply_schema(conn)


def write_admin_password(password: str | None = None, path: Path | None = None) -> Path:
    """Write the admin's password (AIRFLOW_ADMIN_PASSWORD, default "admin") into SimpleAuthManager's
    passwords file (`path`, default: the one Airflow is configured with), a JSON object
    {"<user>": "<password>"}; other users' entries are kept."""
    import json

    path = path or Path(
        os.environ.get(PASSWORDS_ENV) or config.AIRFLOW_HOME / "simple_auth_manager_passwords.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        passwords = json.loads(path.read_text(encoding="utf-8") or "{}") if path.is_file() else {}
    except json.JSONDecodeError:
        passwords = {}
    wanted = password if password is not None else config.AIRFLOW_ADMIN_PASSWORD
    if passwords.get(config.AIRFLOW_ADMIN_USER) != wanted:
        passwords[config.AIRFLOW_ADMIN_USER] = wanted
        path.write_text(json.dumps(passwords) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path


def migrate_airflow() -> None:
    """`airflow db migrate` once per Airflow version (a marker file remembers it)."""
    from importlib.metadata import version

    marker = config.AIRFLOW_HOME / f".migrated-{version('apache-airflow')}-{_metadata_key()}"
    if marker.exists() and _metadata_tables_exist():
        return
    config.AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    log.info("migrating Airflow's metadata database (first run: about a minute)")
    subprocess.run([_airflow_bin(), "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
    marker.touch()


def _metadata_tables_exist() -> bool:
    import psycopg

    uri = "postgresql://" + os.environ[METADATA_ENV].split("://", 1)[1]
    try:
        with psycopg.connect(uri) as conn:
            row = conn.execute("select to_regclass('public.alembic_version') is not null").fetchone()
    except psycopg.OperationalError:
        return False
    return bool(row and row[0])


def _metadata_key() -> str:
    import hashlib

    return hashlib.sha256(os.environ[METADATA_ENV].encode()).hexdigest()[:8]


def _airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def run_dag(dag_id: str, conf: dict | None = None):
    """Run a real DAG end to end in this process with `dag.test()`; returns the DagRun."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(config.PROJECT_ROOT / "dags" / f"{dag_id}.py"))
    if bag.import_errors:
        raise RuntimeError(f"the DAG file of {dag_id} does not import: {bag.import_errors}")
    return bag.get_dag(dag_id).test(run_conf=conf or {})
