"""Every task of every DAG records its failure (audit.task_failures) and notifies people
(include/notifications.py), through DEFAULT_ARGS: no DAG file has to opt in."""

from __future__ import annotations

import pytest

from include.orchestration import notify_failure, record_failure

pytestmark = pytest.mark.dags


def test_every_task_records_and_notifies_its_failure(dagbag):
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert record_failure in callbacks and notify_failure in callbacks, (dag_id, task.task_id)


def test_parsing_a_dag_does_not_load_the_notifiers():
    """The SMTP notifier, its hook and include.notifications load when a task fails, not when the scheduler
    parses DAG files (checked in a fresh interpreter)."""
    import subprocess
    import sys

    from include import config

    script = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(config.PROJECT_ROOT / 'dags')!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "print(sorted(m for m in sys.modules if m.startswith(('include.notifications', 'airflow.providers.smtp.notifications', 'airflow.providers.smtp.hooks'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=config.PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
