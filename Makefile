# The project's commands. `make demo` runs the whole pipeline; `make test` runs every test.
# Both create .venv and install requirements.txt on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SOURCE ?= include/sample/online_retail_sample.zip
PYTEST_ARGS ?=
SERVE_PORT ?= 8090

.PHONY: venv demo test test-e2e chromium psql airflow serve stop up lint format bench clean docs

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

demo: venv  ## run the whole pipeline end to end (SOURCE=<path|url|kaggle slug>)
	$(PY) -m include.cli demo --source "$(SOURCE)"

test: venv chromium  ## the whole test suite, on the embedded PostgreSQL and real Airflow services
	$(PY) -m pytest $(PYTEST_ARGS)

test-e2e: venv chromium  ## only the end-to-end tests (real Airflow services, REST API, UI screenshot)
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

chromium:  ## the headless browser of the UI screenshot test (Debian package; best effort, as root)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium is not installed: the UI screenshot test will skip"

psql: venv  ## psql on the warehouse; standard input passes through
	@$(PY) -m include.cli psql

airflow: venv  ## start the Airflow UI, scheduler and dag-processor
	$(PY) -m include.cli airflow

serve: venv  ## the recommendation API alone on 127.0.0.1:$(SERVE_PORT) (same app as /recommendations in make airflow)
	$(PY) -m include.cli serve --port $(SERVE_PORT)

stop:  ## stop everything the project started
	@test -x $(PY) && $(PY) -m include.cli stop || true

up: venv  ## start the embedded database and prepare Airflow, nothing else
	$(PY) -m include.cli up

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: venv  ## ingestion against a plain psql \copy (needs ../shared/datasets)
	$(PY) bench/ingest_vs_psql_copy.py

docs: up  ## regenerate docs/data_dictionary.md and docs/tableau/marts.tds from the database
	$(PY) -m include.publish.dictionary
	$(PY) -m include.publish.tableau tds

clean: stop  ## remove local state (database, landing, Airflow home); keeps .venv
	rm -rf .local .airflow
