# The project's commands. `make demo` runs the whole pipeline; `make test` runs every test.
# Both create .venv and install requirements.txt and requirements-dev.txt on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SOURCE ?= include/sample/online_retail_sample.zip
LAYOUT ?= auto
PYTEST_ARGS ?=
SERVE_PORT ?= 8090

.PHONY: venv demo test test-e2e chromium redis psql airflow serve stop up lint format bench clean docs synth

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $@

demo: venv  ## run the whole pipeline end to end (SOURCE=<path|url|kaggle slug>, LAYOUT=<layout|auto>)
	$(PY) -m tools.cli demo --source "$(SOURCE)" --layout "$(LAYOUT)"

test: venv chromium redis  ## the whole test suite, on the embedded PostgreSQL and real Airflow services
	$(PY) -m pytest $(PYTEST_ARGS)

test-e2e: venv chromium redis  ## only the end-to-end tests (real Airflow services, REST API, UI screenshot, CeleryExecutor)
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

chromium:  ## the headless browser of the UI screenshot test (Debian package; best effort, as root)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium is not installed: the UI screenshot test will skip"

# The test runs a redis-server of its own on a free loopback port (never the system's 6379).
redis:  ## the Celery broker of the CeleryExecutor end-to-end test (Debian redis-server; best effort, as root)
	@command -v redis-server >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends redis-server >/dev/null; } \
	  || echo "redis-server is not installed: the CeleryExecutor test will skip"

psql: venv  ## psql on the warehouse; standard input passes through
	@$(PY) -m tools.cli psql

airflow: venv  ## start the Airflow UI, scheduler and dag-processor
	$(PY) -m tools.cli airflow

serve: venv  ## the recommendation API alone on 127.0.0.1:$(SERVE_PORT) (same app as /recommendations in make airflow)
	$(PY) -m tools.cli serve --port $(SERVE_PORT)

stop:  ## stop everything the project started
	@test -x $(PY) && $(PY) -m tools.cli stop || true

up: venv  ## start the embedded database and prepare Airflow, nothing else
	$(PY) -m tools.cli up

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: venv  ## ingestion against a plain psql \copy (needs ../shared/datasets)
	$(PY) bench/ingest_vs_psql_copy.py

SCALE ?= 10
SYNTH_ARGS ?=
.PHONY: synth
synth: venv  ## a synthetic shop SCALE x the real one (.local/synth/online_retail_x$(SCALE).csv); SYNTH_ARGS="--seed 7 --zip --products N --customers N --months N --fit ../shared/datasets/ecommerce-data.zip"
	$(PY) -m tools.synth generate --scale $(SCALE) $(SYNTH_ARGS)

docs: up  ## regenerate docs/data_dictionary.md and docs/tableau/marts.tds from the database
	$(PY) -m tools.cli docs

clean: stop  ## remove local state (database, landing, Airflow home); keeps .venv
	rm -rf .local .airflow
