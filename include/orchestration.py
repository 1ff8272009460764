"""What every DAG shares: default arguments, tags, and turning bad input into a final failure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from include import config

# The small fixed set of tags DAGs may use.
TAGS = frozenset({"ecommerce", "ingest", "quality", "ml", "publish"})

DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": config.TASK_RETRIES,
    "retry_delay": timedelta(seconds=config.RETRY_DELAY_SECONDS),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=30),
}


@contextmanager
def bad_input_fails_task() -> Iterator[None]:
    """Input problems (bad file, wrong layout, ...) fail the task at once: retrying the same
    input cannot help. Other errors (network, database) propagate and are retried."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.ingest.loader import IngestError
    from include.ingest.sources import SourceError
    from include.quality.validate import ValidationFailed
    from include.transform.cleaning import CleaningError

    try:
        yield
    except (IngestError, SourceError, ValidationFailed, CleaningError) as err:
        raise AirflowFailException(str(err)) from err
