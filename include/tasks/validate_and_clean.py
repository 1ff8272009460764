"""The validate-and-clean steps as the DAG calls them. Each returns small metadata for XCom."""

from __future__ import annotations

import logging

from include.db.connection import connect
from include.quality import suites
from include.quality.validate import validate
from include.transform.cleaning import clean_load, load_info

log = logging.getLogger(__name__)


def resolve_load(load_id: int | None) -> dict:
    """The load to clean: `load_id`, or the newest successful load when None."""
    with connect() as conn:
        load_id, layout, label, extract_at, source = load_info(conn, load_id)
    log.info("load %d: layout %s from %s (extracted %s)", load_id, layout, source, extract_at)
    return {"load_id": load_id, "layout": layout, "label": label}


def validate_raw(load: dict, run_id: str) -> dict:
    """Raw suite of the load's layout on its raw table, this load's rows only; every expectation's
    result goes to audit.data_quality_results."""
    return validate(
        lambda: [suites.raw_suite(load["layout"])], run_id, load["label"], load["load_id"]
    ).to_xcom()


def clean(load: dict) -> dict:
    """Set-based cleaning of the load into staging (one transaction)."""
    return clean_load(load["load_id"]).to_xcom()


def validate_staging(load: dict, run_id: str) -> dict:
    """Clean suites of the layout family on the staging tables (results kept under the load's id)."""
    return validate(
        lambda: suites.staging_suites(load["layout"]), run_id, load["label"], load["load_id"]
    ).to_xcom()
