"""What the run report page shows, read from the warehouse, and the files it may serve.

A report is one publication run (a row of marts.pipeline_runs, status published) with the
segmentation and recommendation runs it switched on (its segments_run_id and
recommendations_run_id) and the validation run whose Data Docs it links (the newest
validate_staging that finished before it, from audit.task_runs). Only runs whose
rows are still kept (RUNS_KEPT, published.run_history) have a report.

Files are never named by the request: a plot is looked up by its name in the segmentation run's
`ml.segmentation_runs.plots`, a Data Docs page by its relative path in the listing of the
validation run's `data_docs` folder; any other name is "not found". Every served file must lie
inside RUNS_DIR.
"""

from __future__ import annotations

import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from include import config

POPULATION = "transactions"

# Every kept publication run with the stage runs it switched on (marts.pipeline_runs names them),
# newest first; the validation run is the newest validate_staging before it.
RUNS_SQL = """
with candidates as (
    select p.run_id, p.load_id, p.source, p.source_sha256, p.layout, p.rows_raw, p.rows_clean,
           p.rows_returns, p.rows_rejected, p.customers_segmented, p.chosen_k,
           p.silhouette::float8 as silhouette, p.discover_ndcg_at_10::float8 as discover_ndcg_at_10,
           p.buy_again_ndcg_at_10::float8 as buy_again_ndcg_at_10, p.status, p.seconds_by_dag,
           p.published_at,
           p.segments_run_id as segmentation_run_id,
           p.recommendations_run_id as recommendation_run_id,
           (select t.run_id from audit.task_runs as t
             where t.dag_id = 'validate_and_clean' and t.task_id = 'validate_staging'
               and t.finished_at <= p.published_at
             order by t.finished_at desc limit 1) as validation_run_id
      from marts.pipeline_runs as p
     where p.status = 'published'
       and exists (select 1 from published.run_history as h
                    where h.mart = 'segment_monthly_trends' and h.run_id = p.run_id)
       and exists (select 1 from published.run_history as h
                    where h.mart = 'customer_segments' and h.run_id = p.segments_run_id)
       and exists (select 1 from published.run_history as h
                    where h.mart = 'recommendation_metrics' and h.run_id = p.recommendations_run_id)
)
select * from candidates
 order by published_at desc
"""

PROFILES_SQL = """
select segment_id, segment_name, customers, customer_share::float8 as customer_share,
       revenue::float8 as revenue, revenue_share::float8 as revenue_share, outliers,
       median_recency_days::float8 as median_recency_days, median_frequency::float8 as median_frequency,
       median_monetary::float8 as median_monetary, median_avg_basket_value::float8 as median_avg_basket_value,
       mean_return_rate::float8 as mean_return_rate, top_countries, top_products
  from published.segment_profiles
 where run_id = %s
 order by segment_id
"""

METRICS_SQL = """
select method, list_type, precision_at_10, recall_at_10, ndcg_at_10, map_at_10, hit_rate_at_10,
       coverage, users_evaluated, train_start_date, train_end_date, test_start_date, test_end_date
  from published.recommendation_metrics
 where run_id = %s
 order by list_type desc, ndcg_at_10 desc nulls last, method
"""

SEGMENTATION_SQL = """
select algorithm, customers, chosen_k, elbow_k, best_silhouette_k, silhouette::float8 as silhouette,
       dbscan_eps::float8 as dbscan_eps, dbscan_clusters, dbscan_noise_share::float8 as dbscan_noise_share,
       as_of_date, plots
  from ml.segmentation_runs
 where run_id = %s and population = %s
"""

PLOT_TITLES = {
    "elbow_silhouette": "Elbow (inertia) and silhouette per k",
    "k_distance": "k-distance curve (DBSCAN eps)",
    "pca_scatter": "Customers on the first two principal components",
    "profile_heatmap": "Segment profiles (mean scaled feature)",
}


@dataclass(frozen=True)
class Report:
    run: dict  # the marts.pipeline_runs row + segmentation/recommendation/validation run ids
    segmentation: dict | None  # ml.segmentation_runs row of the segmentation run
    profiles: list[dict]
    metrics: list[dict]
    plots: list[str]  # names of the plots whose files exist
    has_data_docs: bool


def kept_runs(conn: psycopg.Connection) -> list[dict]:
    """Publication runs with a report, newest first (see the module docstring)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(RUNS_SQL).fetchall()


def find_run(conn: psycopg.Connection, run_id: str | None) -> dict | None:
    """The kept run `run_id`, or the newest one when `run_id` is None."""
    runs = kept_runs(conn)
    if run_id is None:
        return runs[0] if runs else None
    return next((r for r in runs if r["run_id"] == run_id), None)


def _segmentation(conn: psycopg.Connection, run_id: str) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(SEGMENTATION_SQL, (run_id, POPULATION)).fetchone()


def build_report(conn: psycopg.Connection, run: dict) -> Report:
    segmentation = _segmentation(conn, run["segmentation_run_id"])
    with conn.cursor(row_factory=dict_row) as cur:
        profiles = cur.execute(PROFILES_SQL, (run["segmentation_run_id"],)).fetchall()
        metrics = cur.execute(METRICS_SQL, (run["recommendation_run_id"],)).fetchall()
    plots = [name for name in PLOT_TITLES if plot_path(segmentation, name) is not None]
    docs = data_docs_files(run.get("validation_run_id"))
    return Report(run, segmentation, profiles, metrics, plots, "index.html" in docs)


# --- files -----------------------------------------------------------------------------------


def _inside_runs_dir(path: Path) -> Path | None:
    """`path` resolved, if it is a regular file inside RUNS_DIR; else None."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    root = config.RUNS_DIR.resolve()
    if not resolved.is_file() or not resolved.is_relative_to(root):
        return None
    return resolved


def plot_path(segmentation: dict | None, name: str) -> Path | None:
    """The file the segmentation run recorded for plot `name` (a key of its plots), if any."""
    recorded = (segmentation or {}).get("plots") or {}
    if name not in PLOT_TITLES or name not in recorded:
        return None
    return _inside_runs_dir(Path(recorded[name]))


def run_plot(conn: psycopg.Connection, run_id: str, name: str) -> Path | None:
    run = find_run(conn, run_id)
    return plot_path(_segmentation(conn, run["segmentation_run_id"]), name) if run else None


def run_folder(run_id: str) -> Path:
    """<RUNS_DIR>/<run id made file-system safe>: the same rule as
    include.quality.validate.run_scoped_dir, without creating anything."""
    return config.RUNS_DIR / re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


def data_docs_files(validation_run_id: str | None) -> dict[str, Path]:
    """{relative path: file} of the validation run's Data Docs site (regular files only)."""
    if not validation_run_id:
        return {}
    root = run_folder(validation_run_id) / "data_docs"
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink() and (inside := _inside_runs_dir(path)) is not None:
                files[path.relative_to(root).as_posix()] = inside
    return files


def run_data_docs(conn: psycopg.Connection, run_id: str, relative: str) -> Path | None:
    run = find_run(conn, run_id)
    return data_docs_files(run.get("validation_run_id")).get(relative) if run else None


def media_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
