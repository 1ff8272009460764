"""What every DAG shares: default arguments, tags, and turning bad input into a final failure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

# The small fixed set of tags DAGs may use.
TAGS = frozenset({"ecommerce", "ingest", "quality", "ml", "publish"})

DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
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

    try:
        yield
    except (IngestError, SourceError) as err:
        raise AirflowFailException(str(err)) from err
