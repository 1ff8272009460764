"""The pieces of a failure notification that need no server: the webhook URL of either
connection form, the error text (bad input named by its own type) and the message fields."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "url"),
    [
        (
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "https://hooks.slack.com/services/T000/B000/XXXX",
        ),
        ("http://127.0.0.1:8099/hooks/pipeline", "http://127.0.0.1:8099/hooks/pipeline"),
        (
            '{"conn_type": "http", "host": "https://hooks.example.com/notify"}',
            "https://hooks.example.com/notify",
        ),
    ],
)
def test_webhook_url_from_either_connection_form(value, url):
    from airflow.sdk import Connection

    from include.notifications import webhook_url

    conn = Connection.from_json(value, "w") if value.startswith("{") else Connection.from_uri(value, "w")
    assert webhook_url(conn) == url


def test_bad_input_is_named_by_its_own_error_type():
    from airflow.sdk.exceptions import AirflowFailException

    from include.ingest.loader import IngestError
    from include.orchestration import describe_error

    try:
        try:
            raise IngestError("f.csv: header only, no data rows (layout online_retail)")
        except IngestError as err:
            raise AirflowFailException(str(err)) from err
    except AirflowFailException as wrapped:
        assert (
            describe_error(wrapped) == "IngestError: f.csv: header only, no data rows (layout online_retail)"
        )
    assert describe_error(RuntimeError("disk full")) == "RuntimeError: disk full"
    assert describe_error(None) == "unknown error"


def test_the_message_names_task_error_runbook_and_escapes_html():
    from include.notifications import Failure

    failure = Failure(
        dag_id="validate_and_clean",
        task_id="clean",
        run_id="manual__2026-01-01T00:00:00+00:00",
        try_number=1,
        max_tries=2,
        error="CleaningError: <b>x.csv</b>: 14.3 % of lines rejected {{ not a template }}",
        runbook_url="docs/runbook.md#validate-and-clean-clean",
        log_url="http://127.0.0.1:8080/dags/validate_and_clean/runs/r/tasks/clean?try_number=1",
    )
    assert failure.subject.startswith("[airflow] validate_and_clean.clean failed: CleaningError: ")
    for part in (
        "validate_and_clean",
        "clean",
        "Try:     1 of 3",
        "14.3 % of lines rejected",
        "#validate-and-clean-clean",
    ):
        assert part in failure.text()
    assert "&lt;b&gt;x.csv&lt;/b&gt;" in failure.html() and "<b>x.csv</b>" not in failure.html()
    assert failure.payload()["task_id"] == "clean" and failure.payload()["text"] == failure.text()
