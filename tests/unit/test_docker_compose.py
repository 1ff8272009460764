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
