"""The thread rule of the ML fits (include/ml/threads.py, applied by include/config.py):
threads = max(1, available cores // tasks that can run on the machine at once)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from include import config
from include.ml import threads

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("cores", "tasks", "expected"),
    [
        (16, 4, 4),  # a 16-core worker with 4 task slots: 4 threads each, 16 in all
        (16, 16, 1),  # Celery's default concurrency: one each
        (16, 5, 3),  # rounded down: 15 threads for 16 cores, never 20
        (2, 32, 1),  # LocalExecutor's parallelism on a 2-core machine: never 0
        (2, 1, 2),  # one task at a time gets every core
        (8, 0, 8),  # a nonsensical 0 counts as 1
    ],
)
def test_default_threads_shares_the_cores_among_the_tasks(cores, tasks, expected):
    assert threads.default_threads(cores, tasks) == expected
    assert threads.default_threads(cores, tasks) * max(tasks, 1) <= max(cores, max(tasks, 1))


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, 32),  # LocalExecutor (Airflow's default executor): core.parallelism, default 32
        ({"AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__PARALLELISM": "8"}, 8),
        ({"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}, 16),  # worker_concurrency's default
        ({"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor", "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4"}, 4),
        # autoscale "max,min" wins over the concurrency, as in `airflow celery worker`
        (
            {
                "AIRFLOW__CORE__EXECUTOR": "airflow.providers.celery.executors.celery_executor.CeleryExecutor",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
                "AIRFLOW__CELERY__WORKER_AUTOSCALE": "6,2",
            },
            6,
        ),
        # the first executor of a list is the default one
        ({"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor,KubernetesExecutor"}, 16),
        # parallelism is not a Celery worker's limit
        ({"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor", "AIRFLOW__CORE__PARALLELISM": "64"}, 16),
        # the explicit setting wins over everything
        ({"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor", "ML_TASKS_PER_MACHINE": "2"}, 2),
    ],
)
def test_tasks_per_machine_follows_the_executor(environ, expected):
    assert threads.tasks_per_machine(environ) == expected


def test_cgroup_v2_quota_caps_the_cores(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # docker --cpus 1.5
    assert threads.cgroup_quota_cores(tmp_path) == 1.5
    assert threads.available_cores(tmp_path) == min(threads.affinity_cores(), 2)
    (tmp_path / "cpu.max").write_text("max 100000\n")  # no quota
    assert threads.cgroup_quota_cores(tmp_path) is None
    assert threads.available_cores(tmp_path) == threads.affinity_cores()


def test_cgroup_v1_quota_and_no_cgroup(tmp_path):
    assert threads.cgroup_quota_cores(tmp_path) is None  # nothing to read
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.cgroup_quota_cores(tmp_path) == 1.0
    assert threads.available_cores(tmp_path) == 1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")  # v1's "no quota"
    assert threads.cgroup_quota_cores(tmp_path) is None


def test_available_cores_is_the_affinity_here():
    assert threads.affinity_cores() == len(os.sched_getaffinity(0))
    assert 1 <= threads.available_cores() <= threads.affinity_cores()


def _config_value(env: dict[str, str], name: str) -> str:
    """include.config.<name> as a fresh process with `env` computes it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "ML_"))}
    out = subprocess.run(
        [sys.executable, "-c", f"from include import config; print(config.{name})"],
        env={**clean, **env},
        cwd=config.PROJECT_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def test_config_applies_the_rule_and_keeps_the_explicit_override():
    cores = threads.available_cores()
    celery = {"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor", "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1"}
    assert _config_value(celery, "ML_THREADS") == str(cores)  # one slot: every core
    assert _config_value({**celery, "ML_TASKS_PER_MACHINE": str(cores * 2)}, "ML_THREADS") == "1"
    assert _config_value({**celery, "ML_THREADS": "3"}, "ML_THREADS") == "3"  # the override
    assert _config_value({"AIRFLOW__CORE__PARALLELISM": "1"}, "ML_TASKS_PER_MACHINE") == "1"
