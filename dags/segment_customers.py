"""
## Segment customers

Turns the clean staging tables into customer segments a marketer can read and a BI analyst can
chart. Scheduled on the staging assets the cleaning DAG emits; the population follows the asset
(transactions or customer_personality profiles) unless the `population` Param says otherwise.

1. **plan_features**, **build_features**: `sql/ml/customer_features.sql` (or
   `profile_features.sql`) into `ml.customer_features` / `ml.profile_features`, as of
   `as_of_date` (empty = the day after the last invoice / enrolment; never the wall clock), by
   mapped tasks over blocks of `MAPPED_CUSTOMERS_PER_TASK` customers (one on Online Retail) that
   meet in the table; fit_segments checks they add up.
2. **fit_segments**: log1p + StandardScaler; K-means and Ward (agglomerative) for k in
   `k_min`..`k_max` with inertia, silhouette, Davies-Bouldin, Calinski-Harabasz; k = best
   silhouette within elbow +- 1; segments from `algorithm`, ids ordered by value, named from
   their profile; PCA 2-D; DBSCAN outliers. Models + manifest and plots under
   `.local/runs/<run_id>/segmentation/<population>/` (paths in the log). Writes the run's rows
   of the marts, not yet visible.
3. **publish_segments**: checks the rows (one per customer, unique keys, every segment
   profiled, one chosen k) and switches `marts.customer_segments`, `marts.segment_profiles`,
   `marts.segmentation_metrics` (profiles: `marts.profile_segments`,
   `marts.profile_segment_profiles`, `marts.profile_segmentation_metrics`) in one transaction.
4. **announce_segments**: emits the `customer_segments` asset (transactions only; skipped for
   the profiles population).

Rerunning any task is safe: every write replaces the run's own rows; BI sees the previous run's
segments until publish_segments succeeds.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from include import assets, config
from include.orchestration import DAG_DEFAULTS, bad_input_fails_task, param


def _triggering_layouts(context) -> list[str]:
    """Layouts carried by the triggering staging asset events (oldest first)."""
    events = context.get("triggering_asset_events") or {}
    layouts = []
    for key, evs in events.items():
        name = getattr(key, "name", None)
        for event in evs:
            layout = (event.extra or {}).get("layout")
            if not layout and name == assets.STAGING_CUSTOMER_PROFILES.name:
                layout = "customer_personality"
            if layout:
                layouts.append(layout)
    return layouts


@dag(
    dag_id="segment_customers",
    doc_md=__doc__,
    schedule=assets.STAGING_TRANSACTIONS | assets.STAGING_CUSTOMER_PROFILES,
    tags=["ecommerce", "ml"],
    params={
        "as_of_date": param(
            None,
            "Features as of this date (YYYY-MM-DD); empty = the day after the last invoice.",
            type="string",
            optional=True,
            format="date",
        ),
        "algorithm": param(
            config.SEGMENT_ALGORITHM,
            "Algorithm forming the segments; both are fitted and their metrics stored.",
            type="string",
            enum=["kmeans", "agglomerative"],
        ),
        "k_min": param(config.K_MIN, "Smallest k of the sweep.", type="integer", minimum=2),
        "k_max": param(config.K_MAX, "Largest k of the sweep.", type="integer", minimum=2),
        "population": param(
            None,
            "Customers to segment; empty = the triggering asset's, else transactions.",
            type="string",
            optional=True,
            enum=[None, "transactions", "customer_profiles"],
        ),
    },
    **DAG_DEFAULTS,
)
def segment_customers():
    @task
    def plan_features() -> list[dict]:
        """Cuts the population's customers into blocks for build_features (one on Online Retail)."""
        from include.tasks import segment_customers

        context = get_current_context()
        params = context["params"]
        population = segment_customers.resolve_population(params["population"], _triggering_layouts(context))
        with bad_input_fails_task():
            return segment_customers.plan_features(context["run_id"], population, params["as_of_date"])

    @task(map_index_template="{{ block_label }}")
    def build_features(block: dict) -> dict:
        """Writes the block's rows of ml.customer_features (or ml.profile_features) for this run."""
        from include.db.blocks import block_label
        from include.tasks import segment_customers

        context = get_current_context()
        context["block_label"] = block_label(block)
        with bad_input_fails_task():
            return segment_customers.build_features(context["run_id"], block)

    @task
    def fit_segments(features: list[dict]) -> dict:
        """Checks the feature blocks add up, then writes published.<population marts> rows of this
        run (not yet active), ml.segmentation_runs, models, manifest and plots under the run folder."""
        from include.tasks import segment_customers

        context = get_current_context()
        params = context["params"]
        with bad_input_fails_task():
            return segment_customers.fit_segments(
                context["run_id"],
                None,
                params["algorithm"],
                params["k_min"],
                params["k_max"],
                # a slice: one request (iterating asks item by item, and logs a 404 past the end)
                feature_blocks=list(features[:]),
            )

    @task
    def publish_segments(fitted: dict) -> dict:
        """Points the population's three marts views at this run after checking its rows."""
        from include.tasks import segment_customers

        with bad_input_fails_task():
            return segment_customers.publish_segments(get_current_context()["run_id"], fitted["population"])

    @task(outlets=[assets.CUSTOMER_SEGMENTS])
    def announce_segments(published: dict, fitted: dict) -> None:
        """Emits the customer_segments asset for the transactions population; skipped otherwise."""
        from airflow.sdk.exceptions import AirflowSkipException

        if published["population"] != "transactions":
            raise AirflowSkipException(f"population {published['population']}: customer_segments not changed")
        context = get_current_context()
        context["outlet_events"][assets.CUSTOMER_SEGMENTS].extra = {
            "run_id": published["run_id"],
            "chosen_k": fitted["chosen_k"],
            "customers": fitted["customers"],
        }

    features = build_features.expand(block=plan_features())
    fitted = fit_segments(features)
    published = publish_segments(fitted)
    announce_segments(published, fitted)


segment_customers()
