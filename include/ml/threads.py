"""How many BLAS/OpenMP threads one task's ML fits may use: the machine's cores shared among the
tasks that can run on it at once, so a full worker never runs more threads than it has cores.

    threads = max(1, available cores // tasks per machine)

- available cores: the CPUs this process may run on (its affinity), capped by the container's CPU
  quota when there is one (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`:
  docker's `cpus:`);
- tasks per machine: ML_TASKS_PER_MACHINE when set; else the most task processes the executor
  starts on one machine: under the CeleryExecutor the worker's concurrency (the maximum of
  `[celery] worker_autoscale` if set, else `[celery] worker_concurrency`, default 16); otherwise
  (LocalExecutor) `[core] parallelism` (default 32).

include/config.py applies the rule to the environment (ML_THREADS overrides it);
include/ml/segmentation.py applies the limit with threadpoolctl around the fits. Pure functions:
the environment and the cgroup folder are arguments.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# Airflow's defaults for the settings below (airflow/config_templates/config.yml and the
# Celery provider's provider.yaml).
CELERY_WORKER_CONCURRENCY = 16
CORE_PARALLELISM = 32


def affinity_cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cgroup_quota_cores(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota of this process's cgroup in cores (e.g. 2.0 for docker's `cpus: 2`), or
    None when there is none (or no cgroup file to read)."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]  # cgroup v2: "max 100000"
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def available_cores(root: Path = CGROUP_ROOT) -> int:
    """Cores this process can use: its affinity, capped by the cgroup quota (rounded up)."""
    cores = affinity_cores()
    quota = cgroup_quota_cores(root)
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def tasks_per_machine(environ: Mapping[str, str]) -> int:
    """How many tasks can run at once on this machine (see the module docstring)."""
    explicit = environ.get("ML_TASKS_PER_MACHINE")
    if explicit:
        return max(1, int(explicit))
    executor = environ.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor").split(",")[0]
    if "CeleryExecutor" in executor:
        autoscale = environ.get("AIRFLOW__CELERY__WORKER_AUTOSCALE")
        if autoscale:
            return max(1, int(autoscale.split(",")[0]))
        return max(1, int(environ.get("AIRFLOW__CELERY__WORKER_CONCURRENCY", CELERY_WORKER_CONCURRENCY)))
    return max(1, int(environ.get("AIRFLOW__CORE__PARALLELISM", CORE_PARALLELISM)))


def default_threads(cores: int, tasks: int) -> int:
    """The rule: each of `tasks` concurrent tasks gets an equal share of `cores`, at least one."""
    return max(1, cores // max(1, tasks))
