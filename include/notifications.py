"""Failure notifications: who is told when a task fails, and what they read.

Every DAG gets them through `include.orchestration.DEFAULT_ARGS` (`on_failure_callback`). Each
channel is an Airflow notifier, on only when its Airflow connection exists:

- **e-mail** (the default): the SMTP provider's `SmtpNotifier` on the connection
  `NOTIFY_SMTP_CONN_ID` (`smtp_notifications`, e.g. `AIRFLOW_CONN_SMTP_NOTIFICATIONS`), to
  `NOTIFY_EMAIL_TO` (or the connection's `to` extra), from `NOTIFY_EMAIL_FROM` (or its
  `from_email` extra).
- **webhook** (optional; Slack incoming webhooks included): `WebhookNotifier` posts JSON with the
  standard library to the URL of the connection `NOTIFY_WEBHOOK_CONN_ID` (`webhook_notifications`).

With neither connection set, a failure logs one info line saying notifications are off. A
notification that cannot be sent logs a warning and never hides the task's own error.
"""

from __future__ import annotations

import html
import json
import logging
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from include import config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """What a person needs to act on a failed task."""

    dag_id: str
    task_id: str
    run_id: str
    try_number: int | None
    max_tries: int | None
    error: str
    runbook_url: str
    log_url: str

    @property
    def subject(self) -> str:
        first_line = self.error.splitlines()[0] if self.error else "unknown error"
        return f"[airflow] {self.dag_id}.{self.task_id} failed: {first_line[:150]}"

    def text(self) -> str:
        tries = f"{self.try_number} of {self.max_tries + 1}" if self.max_tries is not None else "?"
        return "\n".join(
            [
                f"Task {self.dag_id}.{self.task_id} failed.",
                f"DAG:     {self.dag_id}",
                f"Task:    {self.task_id}",
                f"Run:     {self.run_id}",
                f"Try:     {tries}",
                f"Error:   {self.error}",
                f"Runbook: {self.runbook_url}",
                f"Log:     {self.log_url}",
            ]
        )

    def html(self) -> str:
        rows = [
            ("DAG", self.dag_id),
            ("Task", self.task_id),
            ("Run", self.run_id),
            ("Try", f"{self.try_number} of {(self.max_tries or 0) + 1}"),
        ]
        cells = "".join(f"<tr><td>{k}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
        return (
            f"<p>Task <b>{html.escape(self.dag_id)}.{html.escape(self.task_id)}</b> failed.</p>"
            f"<table>{cells}</table>"
            f"<p>Error:</p><pre>{html.escape(self.error)}</pre>"
            f'<p>Runbook: <a href="{html.escape(self.runbook_url)}">{html.escape(self.runbook_url)}</a></p>'
            f'<p>Log: <a href="{html.escape(self.log_url)}">{html.escape(self.log_url)}</a></p>'
        )

    def payload(self) -> dict[str, Any]:
        """The webhook body: `text` (what Slack shows) plus every field."""
        return {"text": self.text(), **asdict(self)}


def failure_from_context(context) -> Failure:
    from include.orchestration import describe_error, runbook_url

    ti = context.get("task_instance") or context.get("ti")
    dag_id, task_id = ti.dag_id, ti.task_id
    run_id = context.get("run_id") or getattr(ti, "run_id", "")
    try_number = getattr(ti, "try_number", None)
    return Failure(
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        try_number=try_number,
        max_tries=getattr(ti, "max_tries", None),
        error=describe_error(context.get("exception")),
        runbook_url=runbook_url(dag_id, task_id),
        log_url=_log_url(dag_id, run_id, task_id, try_number),
    )


def _log_url(dag_id: str, run_id: str, task_id: str, try_number: int | None) -> str:
    """The task's page in the Airflow UI ([api] base_url, else this project's local UI)."""
    from airflow.sdk.configuration import conf

    base = conf.get("api", "base_url", fallback=None) or f"http://127.0.0.1:{config.AIRFLOW_API_PORT}"
    url = f"{base.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id)}/tasks/{task_id}"
    return url + (f"?try_number={try_number}" if try_number else "")


class WebhookNotifier(BaseNotifier):
    """Posts a JSON body to a URL (a Slack incoming webhook, or any endpoint taking JSON)."""

    template_fields = ()  # the body holds error text: never rendered as a template

    def __init__(self, url: str, payload: dict[str, Any], timeout: float = 10.0) -> None:
        super().__init__()
        self.url, self.payload, self.timeout = url, payload, timeout

    def notify(self, context) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(self.payload).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # a configured URL
            response.read()


def _connection(conn_id: str):
    """The Airflow connection `conn_id`, or None when it is not defined anywhere."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def webhook_url(conn) -> str:
    """The URL a webhook connection names: its host when that is a whole URL (JSON form
    `{"conn_type": "http", "host": "https://hooks.slack.com/services/..."}`), else rebuilt from the
    URI form (`AIRFLOW_CONN_WEBHOOK_NOTIFICATIONS=https://hooks.example.com/path`)."""
    host = conn.host or ""
    if "://" in host:
        return host + (f"/{conn.schema}" if conn.schema else "")
    scheme = conn.conn_type if conn.conn_type in {"http", "https"} else "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}/{conn.schema or ''}"


def _recipients(conn) -> list[str]:
    wanted = config.NOTIFY_EMAIL_TO or str(conn.extra_dejson.get("to") or "")
    return [address.strip() for address in wanted.replace(";", ",").split(",") if address.strip()]


def notifiers_for(failure: Failure) -> list[tuple[str, BaseNotifier]]:
    """The channels configured now, each a notifier ready to send this failure."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    channels: list[tuple[str, BaseNotifier]] = []
    smtp = _connection(config.NOTIFY_SMTP_CONN_ID)
    if smtp is not None:
        to = _recipients(smtp)
        if not to:
            log.warning(
                "connection %s is set but there is no recipient: set NOTIFY_EMAIL_TO (or its 'to' extra)",
                config.NOTIFY_SMTP_CONN_ID,
            )
        else:
            sender = config.NOTIFY_EMAIL_FROM or smtp.extra_dejson.get("from_email") or "airflow@localhost"
            notifier = SmtpNotifier(
                to=to,
                from_email=sender,
                subject=failure.subject,
                html_content=failure.html(),
                smtp_conn_id=config.NOTIFY_SMTP_CONN_ID,
            )
            channels.append((f"e-mail to {', '.join(to)}", notifier))
    hook = _connection(config.NOTIFY_WEBHOOK_CONN_ID)
    if hook is not None:
        url = webhook_url(hook)
        channels.append(
            (f"webhook {url.split('://', 1)[-1].split('/', 1)[0]}", WebhookNotifier(url, failure.payload()))
        )
    return channels


def notify_failure(context) -> None:
    """Failure callback: send the failure to every configured channel. Never raises."""
    try:
        failure = failure_from_context(context)
        channels = notifiers_for(failure)
    except Exception as err:  # a broken notification set-up must not hide the task's error
        log.warning("failure notifications could not be prepared: %s: %s", type(err).__name__, err)
        return
    if not channels:
        log.info(
            "failure notifications are off: no Airflow connection %s (e-mail) or %s (webhook)",
            config.NOTIFY_SMTP_CONN_ID,
            config.NOTIFY_WEBHOOK_CONN_ID,
        )
        return
    for name, notifier in channels:
        try:
            # notify(), not __call__: the message holds error text that must not be rendered by Jinja.
            notifier.notify(context)
        except Exception as err:
            log.warning(
                "could not send the failure notification by %s: %s: %s", name, type(err).__name__, err
            )
        else:
            log.info("failure of %s.%s notified by %s", failure.dag_id, failure.task_id, name)
