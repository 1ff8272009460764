"""docker-compose.yaml, checked statically (Docker cannot run in CI): valid YAML, the services of
a CeleryExecutor deployment with a separate warehouse, the project mounted, and the image built
from the same Airflow version requirements.txt pins."""

from __future__ import annotations

import re

import pytest
import yaml

from include import config

pytestmark = pytest.mark.unit

COMPOSE = config.PROJECT_ROOT / "docker-compose.yaml"
DOCKERFILE = config.PROJECT_ROOT / "Dockerfile"
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def pinned_airflow_version() -> str:
    match = re.search(
        r"^apache-airflow==(\S+)$", (config.PROJECT_ROOT / "requirements.txt").read_text(), re.M
    )
    assert match, "requirements.txt must pin apache-airflow"
    return match.group(1)


def test_services_of_a_celery_deployment_with_a_separate_warehouse(compose):
    services = compose["services"]
    assert AIRFLOW_SERVICES | {"postgres", "warehouse", "redis"} <= set(services)
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    # metadata and warehouse are different servers
    assert "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "@warehouse:" in env["AIRFLOW_CONN_POSTGRES_DWH"]
    # workers scale with --scale: a fixed container_name would forbid it
    assert "container_name" not in services["airflow-worker"]


def test_every_airflow_service_mounts_the_project_and_finds_the_package(compose):
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        targets = {v.split(":")[1] for v in service["volumes"]}
        for folder in ("dags", "plugins", "include", "sql"):
            assert f"/opt/airflow/{folder}" in targets, f"{name} does not mount {folder}/"
        assert service["environment"]["PYTHONPATH"] == "/opt/airflow"


def test_image_is_the_official_airflow_of_the_pinned_version(compose):
    version = pinned_airflow_version()
    for name in AIRFLOW_SERVICES:
        build = compose["services"][name]["build"]
        assert build["args"]["AIRFLOW_IMAGE"] == f"apache/airflow:{version}-python3.11"
        assert build["args"]["AIRFLOW_VERSION"] == version
        assert compose["services"][name]["image"].endswith(f":{version}")
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert f"ARG AIRFLOW_IMAGE=apache/airflow:{version}-python3.11" in dockerfile
    assert "-r /requirements.txt" in dockerfile


def test_no_secret_is_written_in_the_file(compose):
    text = COMPOSE.read_text(encoding="utf-8")
    for variable in ("DWH_PASSWORD", "BI_READER_PASSWORD", "KAGGLE_KEY", "AIRFLOW_ADMIN_PASSWORD"):
        assert f"${{{variable}" in text, f"{variable} must come from the environment"
    assert not re.search(r"KAGGLE_KEY:\s*[A-Za-z0-9]{8,}", text)


# --- settings every Airflow service must share, and the loopback stack that runs them ---------

CONFIG_FILE = "/opt/airflow/config/airflow.cfg"


def mount_source(service: dict, target: str) -> str:
    sources = [v.split(":")[0] for v in service["volumes"] if v.split(":")[1] == target]
    assert len(sources) == 1, f"{target} is mounted {len(sources)} times"
    return sources[0]


def test_every_airflow_service_shares_the_jwt_secret_and_one_config_file(compose):
    """Without one JWT secret the api-server rejects the task tokens the scheduler signs
    ("Invalid auth token: Signature verification failed"); without one config file every
    container writes its own airflow.cfg with its own fernet key."""
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        # required from the environment / .env, never written here
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?"), name
        assert env["AIRFLOW_CONFIG"] == CONFIG_FILE, name
        # a named volume (shared by every container), not a folder of the image
        assert mount_source(services[name], "/opt/airflow/config") == "airflow-config", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        # an empty AIRFLOW__CORE__FERNET_KEY would override the shared file's generated key
        assert "AIRFLOW__CORE__FERNET_KEY" not in env, name
    assert "8080:8080" in services["airflow-apiserver"]["ports"]  # the port the URL above names


def test_airflow_init_writes_the_shared_config_before_any_service_starts(compose):
    services = compose["services"]
    script = services["airflow-init"]["command"][-1]
    assert script.index("airflow config list") < script.index("airflow db migrate")
    assert "/opt/airflow/config/passwords.json" in script
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_worker_concurrency_is_set_for_the_thread_rule(compose):
    """ML_THREADS defaults to a worker's cores // its concurrency (include/ml/threads.py), which
    reads AIRFLOW__CELERY__WORKER_CONCURRENCY from the environment."""
    from include.ml import threads

    env = compose["services"]["airflow-worker"]["environment"]
    assert int(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) >= 1
    assert threads.tasks_per_machine(env) == int(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"])


def test_interpolation_follows_compose():
    from tests.e2e.support.celery_stack import ComposeError, interpolate

    variables = {"SET": "x", "EMPTY": ""}
    assert interpolate("a${SET}b", variables) == "axb"
    assert interpolate("${UNSET:-d} ${EMPTY:-d} ${EMPTY-d}", variables) == "d d "
    assert interpolate("$${HOSTNAME} $$x", variables) == "${HOSTNAME} $x"
    assert interpolate("${SET:?needed}", variables) == "x"
    for required in ("${UNSET:?set it}", "${EMPTY:?set it}", "${UNSET?set it}"):
        with pytest.raises(ComposeError, match="set it"):
            interpolate(required, variables)


def test_the_celery_e2e_stack_runs_exactly_this_file(compose, tmp_path):
    """tests/e2e/test_celery_executor.py proves what it runs. Its stack reads the services from
    this file; here: every compose setting reaches its processes (translated only where a
    compose host or a container path is named), the JWT secret and the config file are one for
    all, and nothing else differs but the declared LOOPBACK_ONLY settings."""
    from tests.e2e.support import celery_stack

    assert set(compose["services"]) == set(celery_stack.RUN) | set(celery_stack.NOT_RUN)
    stack = celery_stack.plan(tmp_path, "airflow_meta", "dwh_wh", spec=compose)
    inherited = celery_stack.inherited_environment()
    secrets, configs = set(), set()
    for service, processes in celery_stack.RUN.items():
        compose_env = celery_stack.compose_environment(compose, service)
        for process in processes:
            env = stack.envs[process]
            home = str(stack.places.home(process))
            for name, value in compose_env.items():
                assert name in env, f"{process} lacks {name}"
                translated = "://" in value or "/opt/airflow" in value or "${" in value
                if not translated:
                    assert env[name] == value, f"{process}: {name}={env[name]!r}, compose {value!r}"
            for name in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
                assert env[name].endswith(f"127.0.0.1:{config.EMBEDDED_PG_PORT}/airflow_meta"), env[name]
            assert env["AIRFLOW_CONN_POSTGRES_DWH"].endswith("/dwh_wh")
            assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:@127.0.0.1:{stack.places.redis_port}/0"
            assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"{stack.base_url}/execution/"
            assert env["PYTHONPATH"] == home
            secrets.add(env["AIRFLOW__API_AUTH__JWT_SECRET"])
            configs.add(env["AIRFLOW_CONFIG"].replace(home, "<home>"))
            extra = {k for k, v in env.items() if k not in compose_env and inherited.get(k) != v}
            assert extra <= set(celery_stack.LOOPBACK_ONLY), (
                f"{process}: undeclared {extra - set(celery_stack.LOOPBACK_ONLY)}"
            )
            command = celery_stack.compose_command(compose, service)
            added = [a.format(process=process) for a in celery_stack.LOOPBACK_ARGS.get(service, ())]
            assert stack.commands[process][1:] == [*command, *added], process
    assert len(secrets) == 1 and len(next(iter(secrets))) >= 32, "one generated JWT secret for all"
    assert configs == {"<home>/config/airflow.cfg"}
    # ... and in every process's home, config/ is the one shared volume (logs/ too), dags/ the project's
    folders = {}
    for service, processes in celery_stack.RUN.items():
        for process in processes:
            home = celery_stack.make_home(compose, service, process, stack.places)
            folders[process] = {name: (home / name).resolve() for name in ("config", "logs", "dags")}
    assert len({f["config"] for f in folders.values()}) == 1
    assert len({f["logs"] for f in folders.values()}) == 1
    assert {f["dags"] for f in folders.values()} == {config.PROJECT_ROOT / "dags"}
    # A compose host the stack cannot translate fails loudly instead of reaching a process.
    with pytest.raises(celery_stack.ComposeError, match="no loopback address"):
        celery_stack.translate("http://warehouse:8080/", stack.places, tmp_path)
