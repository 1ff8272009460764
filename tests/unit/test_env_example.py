"""Every `# KEY=value` line of .env.example, uncommented as written, is read with the value it
shows: the text before a trailing `# comment` (without one layer of quotes). The file is loaded
by include.config itself, at import, in a fresh interpreter (PIPELINE_ENV_FILE points at it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from include import config

pytestmark = pytest.mark.unit

EXAMPLE = config.PROJECT_ROOT / ".env.example"
SETTING = re.compile(r"^#\s?([A-Z][A-Z0-9_]*)=(.*)$")


def _settings() -> dict[str, tuple[str, str]]:
    """KEY -> (the uncommented line, the value it shows)."""
    found: dict[str, tuple[str, str]] = {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = SETTING.match(line)
        if not match:
            continue
        key, rest = match.groups()
        if rest[:1] in {"'", '"'}:
            shown = rest[1 : rest.index(rest[0], 1)]  # a quoted value: what is inside the quotes
        else:
            shown = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
        assert key not in found, f".env.example sets {key} twice: uncommenting both would hide one"
        found[key] = (f"{key}={rest}", shown)
    return found


def test_the_example_has_settings():
    settings = _settings()
    # The lines the README and config name (a regression guard for the parser above too).
    for key in (
        "AIRFLOW_CONN_POSTGRES_DWH",
        "ML_THREADS",
        "AIRFLOW_CONN_SMTP_NOTIFICATIONS",
        "NOTIFY_EMAIL_TO",
    ):
        assert key in settings
    assert settings["ML_THREADS"][1] == "1"


def test_every_line_uncommented_is_read_with_the_value_it_shows(tmp_path):
    settings = _settings()
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(line for line, _ in settings.values()) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in settings and not k.startswith("AIRFLOW_CONN_")}
    env["PIPELINE_ENV_FILE"] = str(env_file)
    script = (
        "import json, os, sys\n"
        "from include import config\n"  # loads PIPELINE_ENV_FILE at import, as every DAG does
        "keys = json.loads(sys.argv[1])\n"
        "print(json.dumps({'env': {k: os.environ.get(k) for k in keys},"
        " 'ML_THREADS': config.ML_THREADS, 'EMBEDDED_PG_PORT': config.EMBEDDED_PG_PORT,"
        " 'CONTENT_MAX_NGRAM_PRODUCTS': config.CONTENT_MAX_NGRAM_PRODUCTS,"
        " 'NOTIFY_EMAIL_TO': config.NOTIFY_EMAIL_TO}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(list(settings))],
        cwd=config.PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    for key, (line, shown) in settings.items():
        assert loaded["env"][key] == shown, f"{line!r} is read as {loaded['env'][key]!r}, not {shown!r}"
    # The typed settings parse (a comment kept in the value would fail int()).
    assert loaded["ML_THREADS"] == 1 and loaded["EMBEDDED_PG_PORT"] == 55432
    assert loaded["CONTENT_MAX_NGRAM_PRODUCTS"] == 1000
    assert loaded["NOTIFY_EMAIL_TO"] == settings["NOTIFY_EMAIL_TO"][1]


def test_the_connections_of_the_example_parse_as_airflow_connections():
    """The JSON and URI connection examples are valid Airflow connections as written."""
    from airflow.sdk import Connection

    settings = _settings()
    dwh = Connection.from_uri(settings["AIRFLOW_CONN_POSTGRES_DWH"][1], conn_id="postgres_dwh")
    assert (dwh.host, dwh.password, dwh.extra_dejson) == (
        "db.example.com",
        "p@ss/w#1",
        {"sslmode": "require"},
    )
    smtp = Connection.from_json(settings["AIRFLOW_CONN_SMTP_NOTIFICATIONS"][1], conn_id="smtp_notifications")
    assert smtp.conn_type == "smtp" and smtp.extra_dejson["from_email"] == "airflow@example.com"
