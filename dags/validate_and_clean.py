"""
## Validate and clean

Validates a raw load with Great Expectations, cleans it into `staging` with set-based SQL, and
validates the result. Scheduled on the raw assets the ingestion DAG emits.

1. **resolve_load**: the load to process: the triggering asset event's `load_id`, the `load_id`
   Param, or the newest successful load.
2. **validate_raw**: the layout's raw suite on this load's rows (columns, row count, types,
   invoice and stock-code patterns, dates). Hard failures fail the task; soft ones warn.
3. **clean**: `sql/staging/*.sql` in one transaction: every raw line lands in exactly one of
   `staging.order_lines`, `staging.returns`, `staging.rejected_lines` (with a reason code);
   products and customers are derived. More than `MAX_REJECTED_SHARE` rejected fails the task.
4. **validate_staging**: clean suites (unique keys, quantity > 0, price > 0, customer present
   where required, every product and customer referenced exists); emits the staging asset.

Data Docs of every run: `.local/runs/<run_id>/data_docs/index.html` (path in the task log).
Rerunning any task is safe: cleaning replaces staging wholesale in one transaction.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from include import assets
from include.orchestration import DAG_DEFAULTS, bad_input_fails_task, param


def _triggering_load_id(context) -> int | None:
    """The load_id carried by the newest triggering asset event, if the run was asset-triggered."""
    events = context.get("triggering_asset_events") or {}
    ids = [e.extra.get("load_id") for evs in events.values() for e in evs if e.extra.get("load_id")]
    return int(ids[-1]) if ids else None


@dag(
    dag_id="validate_and_clean",
    doc_md=__doc__,
    schedule=assets.RAW_TRANSACTIONS | assets.RAW_CUSTOMER_PROFILES,
    tags=["ecommerce", "quality"],
    params={
        "load_id": param(
            None,
            "Raw load to clean (audit.ingest_runs.load_id); empty = the newest successful load.",
            type="integer",
            optional=True,
        ),
    },
    **DAG_DEFAULTS,
)
def validate_and_clean():
    @task
    def resolve_load() -> dict:
        """Reads audit.ingest_runs; returns the load's id, layout and file."""
        from include.tasks import validate_and_clean

        context = get_current_context()
        with bad_input_fails_task():
            return validate_and_clean.resolve_load(
                _triggering_load_id(context) or context["params"]["load_id"]
            )

    @task
    def validate_raw(load: dict) -> dict:
        """Writes Data Docs for the raw suite; fails on a hard expectation."""
        from include.tasks import validate_and_clean

        with bad_input_fails_task():
            return validate_and_clean.validate_raw(load, get_current_context()["run_id"])

    @task
    def clean(load: dict) -> dict:
        """Writes staging.order_lines, returns, rejected_lines, products, customers (or profiles)."""
        from include.tasks import validate_and_clean

        with bad_input_fails_task():
            return validate_and_clean.clean(load)

    @task(outlets=[assets.STAGING_LOADS])
    def validate_staging(load: dict) -> dict:
        """Writes Data Docs for the clean suites; emits the layout's staging asset."""
        from include.tasks import validate_and_clean

        context = get_current_context()
        with bad_input_fails_task():
            report = validate_and_clean.validate_staging(load, context["run_id"])
        context["outlet_events"][assets.STAGING_LOADS].add(
            assets.STAGING_ASSET_BY_LAYOUT[load["layout"]],
            extra={"load_id": load["load_id"], "layout": load["layout"]},
        )
        return report

    load = resolve_load()
    validated = validate_raw(load)
    cleaned = clean(load)
    validated >> cleaned >> validate_staging(load)


validate_and_clean()
