"""
## Publish marts for BI

The last DAG of the transaction pipeline, scheduled on `product_recommendations`. Every stage
before it wrote and audited its marts for its own run (staged in `published.staged_runs`, not
visible to BI); this DAG switches the whole pipeline's marts on together, so BI always sees one
complete run: a stage that fails leaves BI on the previous complete run.

1. **resolve_snapshot**: the newest staged segmentation and recommendations; both must come from
   the load staging holds now.
2. **publish_trends**: `segment_monthly_trends` and `segment_weekday_hour_sales` from the
   snapshot's segments, written for this run and audited (not empty, unique keys).
3. **publish_star_schema**: the star schema `dim_customers`, `dim_products`, `dim_dates`,
   `fct_order_lines`, `fct_returns` from staging and the snapshot's segments, written for this run
   and audited (unique keys, facts reconciled with staging in rows and amount, no orphan key).
4. **record_pipeline_run**: this run's row of `marts.pipeline_runs` (source, checksum, rows per
   stage, chosen k, key metrics, seconds per DAG, the runs it publishes), status `pending`.
5. **publish_snapshot**: one transaction: every mart's pointer moves to its run (segments,
   recommendations, trends, star schema) and this row becomes `is_current`, status `published`.
6. **grant_bi_access**: the `bi_reader` role: SELECT on marts only, default privileges.
7. **export_hyper**: `.local/runs/<run_id>/tableau/marts.hyper` (when the `export_hyper` Param is on).
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from include import assets
from include.orchestration import DAG_DEFAULTS, bad_input_fails_task, param


@dag(
    dag_id="publish_marts",
    doc_md=__doc__,
    schedule=[assets.PRODUCT_RECOMMENDATIONS],
    tags=["ecommerce", "publish"],
    params={"export_hyper": param(True, "Also write a Tableau Hyper extract.", type="boolean")},
    **DAG_DEFAULTS,
)
def publish_marts():
    @task
    def resolve_snapshot() -> dict:
        """Reads published.staged_runs; returns the load and the segment and recommendation runs."""
        from include.tasks import publish_marts

        with bad_input_fails_task():
            return publish_marts.resolve_snapshot()

    @task
    def publish_trends(snapshot: dict) -> dict:
        """Writes published.segment_monthly_trends / segment_weekday_hour_sales of this run (staged)."""
        from include.tasks import publish_marts

        with bad_input_fails_task():
            return publish_marts.publish_trends(get_current_context()["run_id"], snapshot)

    @task
    def publish_star_schema(snapshot: dict) -> dict:
        """Writes published.dim_customers / dim_products / dim_dates / fct_order_lines / fct_returns
        of this run (staged)."""
        from include.tasks import publish_marts

        with bad_input_fails_task():
            return publish_marts.publish_star_schema(get_current_context()["run_id"], snapshot)

    @task
    def record_pipeline_run(snapshot: dict) -> dict:
        """Writes this run's row of audit.pipeline_runs (marts.pipeline_runs), status pending."""
        from include.tasks import publish_marts

        return publish_marts.record_pipeline_run(get_current_context()["run_id"], snapshot)

    @task
    def publish_snapshot(snapshot: dict) -> dict:
        """Moves every mart's pointer to its run in one transaction; marks this run current."""
        from include.tasks import publish_marts

        with bad_input_fails_task():
            return publish_marts.publish_snapshot(get_current_context()["run_id"], snapshot)

    @task
    def grant_bi_access() -> None:
        """Grants the read-only BI role SELECT on marts (idempotent)."""
        from include.tasks import publish_marts

        publish_marts.grant_bi_access()

    @task
    def export_hyper() -> str | None:
        """Writes .local/runs/<run_id>/tableau/marts.hyper."""
        from include.tasks import publish_marts

        context = get_current_context()
        return publish_marts.export_hyper(context["run_id"]) if context["params"]["export_hyper"] else None

    snapshot = resolve_snapshot()
    trends = publish_trends(snapshot)
    star = publish_star_schema(snapshot)
    recorded = record_pipeline_run(snapshot)
    switched = publish_snapshot(snapshot)
    trends >> star >> recorded >> switched >> grant_bi_access() >> export_hyper()


publish_marts()
