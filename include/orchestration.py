"""What every DAG shares: default arguments, tags, failure callbacks (audit row, notifications),
and turning bad input into a final failure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pendulum

from include import config

# The small fixed set of tags DAGs may use.
TAGS = frozenset({"ecommerce", "ingest", "quality", "ml", "publish"})


def param(default, description: str, *, type: str | None = None, optional: bool = False, **schema):
    """A DAG Param: `default`, its `description`, the JSON-schema `type` (also null when `optional`,
    i.e. empty = the documented fallback) and any further schema keywords (enum, minimum, ...)."""
    from airflow.sdk import Param

    if type is not None:
        schema["type"] = ["null", type] if optional else type
    return Param(default, description=description, **schema)


def runbook_url(dag_id: str, task_id: str) -> str:
    """The runbook section for a task: docs/runbook.md, anchor = dag_id-task_id."""
    anchor = f"{dag_id}-{task_id}".replace("_", "-")
    return f"{config.RUNBOOK_URL}#{anchor}"


def describe_error(error: BaseException | None) -> str:
    """`<type>: <message>` of a task's exception. Bad input arrives wrapped in an
    AirflowFailException (see bad_input_fails_task): the wrapped error's type is the one named."""
    if error is None:
        return "unknown error"
    cause = error.__cause__
    if type(error).__name__ == "AirflowFailException" and cause is not None and str(cause) == str(error):
        return f"{type(cause).__name__}: {cause}"
    return f"{type(error).__name__}: {error}"


def record_failure(context) -> None:
    """Failure callback: log the task, run, error and runbook link, and keep them in
    audit.task_failures. Never raises (a callback failing must not hide the task's error)."""
    import logging

    log = logging.getLogger("include.orchestration")
    ti = context.get("task_instance") or context.get("ti")
    dag_id, task_id = ti.dag_id, ti.task_id
    run_id = context.get("run_id") or getattr(ti, "run_id", "")
    error = context.get("exception")
    url = runbook_url(dag_id, task_id)
    message = describe_error(error)
    log.error("task %s.%s failed in run %s: %s. Runbook: %s", dag_id, task_id, run_id, message, url)
    try:
        from include.db.connection import connect

        with connect() as conn:
            conn.execute(
                "insert into audit.task_failures (dag_id, run_id, task_id, try_number, error, runbook_url)"
                " values (%s, %s, %s, %s, %s, %s)",
                (dag_id, run_id, task_id, getattr(ti, "try_number", None), message[:4000], url),
            )
    except Exception as err:  # the database may be what failed
        log.warning("could not record the failure in audit.task_failures: %s", err)


def notify_failure(context) -> None:
    """Failure callback: tell people (e-mail, webhook) when their connections are set; see
    include/notifications.py. Imported here lazily: DAG files stay cheap to parse."""
    from include.notifications import notify_failure as send

    send(context)


def record_success(context) -> None:
    """Success callback: keep the task's duration in audit.task_runs (pipeline_runs reads it)."""
    import logging
    from datetime import UTC, datetime

    ti = context.get("task_instance") or context.get("ti")
    started = getattr(ti, "start_date", None)
    seconds = (datetime.now(UTC) - started).total_seconds() if started else None
    try:
        from include.db.connection import connect

        with connect() as conn:
            conn.execute(
                "insert into audit.task_runs (dag_id, run_id, task_id, try_number, seconds)"
                " values (%s, %s, %s, %s, %s) on conflict (dag_id, run_id, task_id) do update"
                " set try_number = excluded.try_number, seconds = excluded.seconds, finished_at = now()",
                (
                    ti.dag_id,
                    context.get("run_id") or ti.run_id,
                    ti.task_id,
                    getattr(ti, "try_number", None),
                    seconds,
                ),
            )
    except Exception as err:  # bookkeeping must not fail a successful task
        logging.getLogger("include.orchestration").warning("could not record the task duration: %s", err)


DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": config.TASK_RETRIES,
    "retry_delay": timedelta(seconds=config.RETRY_DELAY_SECONDS),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=30),
    "on_failure_callback": [record_failure, notify_failure],
    "on_success_callback": record_success,
}


# What every DAG's header shares (one definition, so no DAG drifts): no backfill of missed
# intervals, one run at a time (a rerun replaces its run's rows; two runs at once would race on
# staging), the default args above.
DAG_DEFAULTS = {
    "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
}


@contextmanager
def bad_input_fails_task() -> Iterator[None]:
    """Input problems (bad file, wrong layout, ...) fail the task at once: retrying the same
    input cannot help. Other errors (network, database) propagate and are retried."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.errors import BadInputError

    try:
        yield
    except BadInputError as err:
        raise AirflowFailException(str(err)) from err
