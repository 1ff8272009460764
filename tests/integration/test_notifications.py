"""Failure notifications, end to end: a real DAG run fails on a bad file, and the failure callback
every DAG gets from DEFAULT_ARGS sends it to an SMTP sink (aiosmtpd) and a webhook sink (the
standard library's HTTP server), both on loopback. The received mail is printed (pytest -s)."""

from __future__ import annotations

import email
import html
import json
import re
import socket
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from include import config

pytestmark = pytest.mark.integration

HEADER = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _MailSink:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_sink():
    from aiosmtpd.controller import Controller

    sink = _MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield sink, controller.port
    finally:
        controller.stop()


@pytest.fixture
def webhook_sink():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # keep the test output to the mail
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    body = part.get_content()
    if part.get_content_subtype() == "html":
        body = re.sub(r"</(p|tr|pre|table)>", "\n", body)
        body = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return body


def test_a_failed_task_is_mailed_and_posted_with_task_error_and_runbook(
    dag_runner, db, tmp_path, smtp_sink, webhook_sink, monkeypatch
):
    sink, smtp_port = smtp_sink
    posted, http_port = webhook_sink
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{config.NOTIFY_SMTP_CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10, "retry_limit": 0},
            }
        ),
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{config.NOTIFY_WEBHOOK_CONN_ID.upper()}",
        f"http://127.0.0.1:{http_port}/hooks/pipeline",
    )
    monkeypatch.setattr(config, "NOTIFY_EMAIL_TO", "oncall@example.org, data-team@example.org")
    monkeypatch.setattr(config, "NOTIFY_EMAIL_FROM", "airflow@pipeline.example.org")
    source = tmp_path / "header_only.csv"
    source.write_bytes(HEADER)

    run = dag_runner("ingest_ecommerce", {"source": str(source)})

    assert run.state == "failed"
    assert len(sink.envelopes) == 1, "one failed task (bad input: no retries), one mail"
    envelope = sink.envelopes[0]
    assert envelope.mail_from == "airflow@pipeline.example.org"
    assert envelope.rcpt_tos == ["oncall@example.org", "data-team@example.org"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    text = _text_of(message)
    print(f"\n--- mail received by the SMTP sink on 127.0.0.1:{smtp_port} ---")
    print(f"From: {message['From']}\nTo: {message['To']}\nSubject: {message['Subject']}\n")
    print(re.sub(r"\n\s*\n+", "\n", text).strip())
    print("--- end of mail ---")
    assert message["Subject"].startswith("[airflow] ingest_ecommerce.load_raw failed: IngestError: ")
    assert "header only, no data rows" in message["Subject"]
    assert "load_raw" in text and run.run_id in text
    assert "header_only.csv: header only, no data rows (layout online_retail)" in text
    assert "docs/runbook.md#ingest-ecommerce-load-raw" in text
    assert "/dags/ingest_ecommerce/runs/" in text

    assert len(posted) == 1
    hook = posted[0]
    assert hook["path"] == "/hooks/pipeline" and hook["type"] == "application/json"
    body = hook["json"]
    assert (body["dag_id"], body["task_id"], body["run_id"]) == ("ingest_ecommerce", "load_raw", run.run_id)
    assert "header only, no data rows" in body["error"] and "header only, no data rows" in body["text"]
    assert body["runbook_url"].endswith("docs/runbook.md#ingest-ecommerce-load-raw")

    # The audit row is still written beside the notifications.
    task_id, error = db.execute(
        "select task_id, error from audit.task_failures where run_id = %s", (run.run_id,)
    ).fetchone()
    assert task_id == "load_raw" and "header only, no data rows" in error
