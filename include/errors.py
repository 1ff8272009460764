"""The one error base the tasks know: input a retry cannot fix.

Every stage raises a subclass (IngestError, ValidationFailed, CleaningError, FeatureError, ...)
with a message naming the file or table, column, rule and count. `include.orchestration.
bad_input_fails_task` turns them into a task failure without retries; any other exception
(network, database, killed process) is retried with backoff.
"""

from __future__ import annotations


class BadInputError(Exception):
    """The input (file, table contents, Param) is wrong: fix it, then rerun."""
