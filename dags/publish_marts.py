"""
## Publish marts for BI

The last step of the chain, scheduled on `product_recommendations`: builds the trend marts per
segment, records the run in `marts.pipeline_runs`, keeps the read-only BI role's grants, and
exports the marts to a Tableau Hyper extract.

1. **publish_trends**: `marts.segment_monthly_trends` and `marts.segment_weekday_hour_sales`,
   written for this run, checked (not empty, unique keys), then switched on together in one
   transaction (write-audit-publish: readers see the previous run or this one, never a mix).
2. **grant_bi_access**: the `bi_reader` role: SELECT on marts only, default privileges.
3. **record_pipeline_run**: one row in `marts.pipeline_runs` (source, checksum, rows per stage,
   chosen k, key metrics, seconds per DAG).
4. **export_hyper**: `.local/runs/<run_id>/tableau/marts.hyper` (when the `export_hyper` Param is on).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from include import assets
from include.orchestration import DEFAULT_ARGS


@dag(
    dag_id="publish_marts",
    doc_md=__doc__,
    schedule=[assets.PRODUCT_RECOMMENDATIONS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ecommerce", "publish"],
    params={"export_hyper": Param(True, type="boolean", description="Also write a Tableau Hyper extract.")},
)
def publish_marts():
    @task
    def publish_trends() -> dict:
        """Writes published.segment_monthly_trends / segment_weekday_hour_sales; switches the marts views."""
        from include.tasks import publish_marts

        return publish_marts.publish_trends(get_current_context()["run_id"])

    @task
    def grant_bi_access() -> None:
        """Grants the read-only BI role SELECT on marts (idempotent)."""
        from include.tasks import publish_marts

        publish_marts.grant_bi_access()

    @task
    def record_pipeline_run() -> dict:
        """Writes this run's row of audit.pipeline_runs (marts.pipeline_runs)."""
        from include.tasks import publish_marts

        return publish_marts.record_pipeline_run(get_current_context()["run_id"])

    @task
    def export_hyper() -> str | None:
        """Writes .local/runs/<run_id>/tableau/marts.hyper."""
        from include.tasks import publish_marts

        context = get_current_context()
        return publish_marts.export_hyper(context["run_id"]) if context["params"]["export_hyper"] else None

    trends = publish_trends()
    access = grant_bi_access()
    trends >> access >> record_pipeline_run() >> export_hyper()


publish_marts()
