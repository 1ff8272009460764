"""
## Ingest e-commerce data

Pulls a source and lands it in the warehouse's `raw` schema, exactly as it came.

0. **prepare_warehouse**: applies the warehouse schema (`include/db/schema.py`), the one
   place a DAG does; nothing runs when the files are unchanged since they were last applied.
1. **land_source**: pull the `source` Param (Kaggle slug, local zip/csv path, or http(s) URL)
   into the landing folder under its sha256; the same bytes again are a no-op.
2. **load_raw**: detect (or check) the `layout` from the header, stream the file with `COPY`
   into `raw.<layout table>` tagged with this run's `load_id` and source line numbers, record
   the run in `audit.ingest_runs`, and emit the layout's asset (`raw_transactions` or
   `raw_customer_profiles`) that downstream DAGs are scheduled on.
3. **prune_raw_loads**: keep the raw rows of the newest `RAW_LOADS_KEPT` successful loads only
   (the landed files stay, so any load can be replayed).

Rerunning either task is safe: landing is keyed by checksum, and a reload replaces this run's
raw rows in one transaction. Bad input fails at once (no retries) with the file and problem named.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from include import assets, config
from include.ingest.layouts import LAYOUT_NAMES
from include.orchestration import DAG_DEFAULTS, bad_input_fails_task, param


@dag(
    dag_id="ingest_ecommerce",
    doc_md=__doc__,
    schedule=None,
    tags=["ecommerce", "ingest"],
    params={
        "source": param(
            config.DEFAULT_KAGGLE_SLUG,
            "Kaggle dataset slug (owner/dataset), local .zip/.csv path, or http(s) URL.",
            type="string",
            minLength=1,
        ),
        "layout": param(
            "auto", "Source layout; 'auto' detects it from the header.", enum=["auto", *LAYOUT_NAMES]
        ),
    },
    **DAG_DEFAULTS,
)
def ingest_ecommerce():
    @task
    def prepare_warehouse() -> dict:
        """Applies the warehouse schema (include/db/schema.py) when it changed; else nothing."""
        from include.tasks import ingest_ecommerce

        return ingest_ecommerce.prepare_warehouse()

    @task
    def land_source() -> dict:
        """Writes the landed file under <landing>/<sha256>/; returns its path and checksum."""
        from include.tasks import ingest_ecommerce

        with bad_input_fails_task():
            return ingest_ecommerce.land_source(get_current_context()["params"]["source"])

    @task(outlets=[assets.RAW_LOADS])
    def load_raw(landed: dict) -> dict:
        """Writes raw.<layout table> rows of this run's load and its audit.ingest_runs row."""
        from include.tasks import ingest_ecommerce

        context = get_current_context()
        layout = context["params"]["layout"]
        with bad_input_fails_task():
            result = ingest_ecommerce.load_raw(
                landed,
                dag_id=context["dag"].dag_id,
                run_id=context["run_id"],
                layout=None if layout == "auto" else layout,
            )
        context["outlet_events"][assets.RAW_LOADS].add(
            assets.RAW_ASSET_BY_LAYOUT[result["layout"]],
            extra={"load_id": result["load_id"], "rows": result["rows"]},
        )
        return result

    @task
    def prune_raw_loads() -> int:
        """Deletes raw rows of loads older than the newest RAW_LOADS_KEPT successful ones."""
        from include.tasks import ingest_ecommerce

        return ingest_ecommerce.prune_raw()

    warehouse = prepare_warehouse()
    loaded = load_raw(land_source())
    warehouse >> loaded >> prune_raw_loads()


ingest_ecommerce()
