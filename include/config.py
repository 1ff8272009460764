"""Every setting of the project in one place: paths, connection ids, schema names, thresholds.

Each value can be overridden by an environment variable of the same name (a `.env` file at the
project root is read too; `.env.example` lists them). Nothing else in the project reads the
environment for configuration.
"""

from __future__ import annotations

import os
from pathlib import Path


def _load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines of `.env` into the environment, never overriding what is set."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


PROJECT_ROOT = Path(__file__).resolve().parent.parent
_load_dotenv(PROJECT_ROOT / ".env")

# --- local state (git-ignored) ---------------------------------------------------------------
LOCAL_DIR = Path(_env("PIPELINE_LOCAL_DIR", str(PROJECT_ROOT / ".local")))
PGDATA_DIR = LOCAL_DIR / "pgdata"
LANDING_DIR = Path(_env("PIPELINE_LANDING_DIR", str(LOCAL_DIR / "landing")))
DOWNLOAD_DIR = LOCAL_DIR / "downloads"
RUNS_DIR = Path(_env("PIPELINE_RUNS_DIR", str(LOCAL_DIR / "runs")))
AIRFLOW_HOME = Path(_env("AIRFLOW_HOME", str(PROJECT_ROOT / ".airflow")))
SQL_DIR = PROJECT_ROOT / "sql"
SAMPLE_DIR = PROJECT_ROOT / "include" / "sample"
SAMPLE_SOURCE = SAMPLE_DIR / "online_retail_sample.zip"

# --- databases --------------------------------------------------------------------------------
# The warehouse is the Airflow connection DWH_CONN_ID (set it with AIRFLOW_CONN_POSTGRES_DWH).
# When neither it nor Airflow's metadata database is configured, the embedded PostgreSQL is used.
DWH_CONN_ID = _env("DWH_CONN_ID", "postgres_dwh")
DWH_CONN_ENV = f"AIRFLOW_CONN_{DWH_CONN_ID.upper()}"
EMBEDDED_PG_HOST = "127.0.0.1"
EMBEDDED_PG_PORT = _env_int("EMBEDDED_PG_PORT", 55432)
EMBEDDED_PG_USER = "postgres"
WAREHOUSE_DB = _env("WAREHOUSE_DB", "dwh")
METADATA_DB = _env("AIRFLOW_METADATA_DB", "airflow")

SCHEMAS = ("raw", "staging", "ml", "marts", "audit")

# --- ingestion --------------------------------------------------------------------------------
DEFAULT_KAGGLE_SLUG = "carrie1/ecommerce-data"
KAGGLE_CONN_ID = _env("KAGGLE_CONN_ID", "kaggle_default")
DOWNLOAD_TIMEOUT_SECONDS = _env_float("DOWNLOAD_TIMEOUT_SECONDS", 60.0)
DOWNLOAD_RETRIES = _env_int("DOWNLOAD_RETRIES", 3)
COPY_CHUNK_BYTES = _env_int("COPY_CHUNK_BYTES", 1 << 20)
RAW_LOADS_KEPT = _env_int("RAW_LOADS_KEPT", 3)

# --- Airflow ----------------------------------------------------------------------------------
AIRFLOW_API_PORT = _env_int("AIRFLOW_API_PORT", 8080)
AIRFLOW_ADMIN_USER = "admin"

# --- publication ------------------------------------------------------------------------------
RUNS_KEPT = _env_int("RUNS_KEPT", 5)  # past runs of every mart kept in published.*

# --- validation and cleaning ------------------------------------------------------------------
MAX_REJECTED_SHARE = _env_float("MAX_REJECTED_SHARE", 0.05)  # above: the cleaning task fails
MAX_MAGNITUDE = _env_float("MAX_MAGNITUDE", 100_000)  # |quantity| or |price| beyond: rejected

# --- orchestration ----------------------------------------------------------------------------
TASK_RETRIES = _env_int("TASK_RETRIES", 2)  # with exponential backoff from RETRY_DELAY_SECONDS
RETRY_DELAY_SECONDS = _env_float("RETRY_DELAY_SECONDS", 30)
# docs/runbook.md as served by the recommendation app in the api-server (failure links in task logs)
RUNBOOK_URL = _env("RUNBOOK_URL", f"http://127.0.0.1:{AIRFLOW_API_PORT}/recommendations/docs/runbook.md")

# --- BI access --------------------------------------------------------------------------------
BI_ROLE = _env("BI_ROLE", "bi_reader")
BI_READER_PASSWORD = _env("BI_READER_PASSWORD", "")  # set it; the embedded server trusts local logins
TABLEAU_TDS_PATH = PROJECT_ROOT / "docs" / "tableau" / "marts.tds"
DATA_DICTIONARY_PATH = PROJECT_ROOT / "docs" / "data_dictionary.md"

# --- segmentation (segment_customers DAG) ------------------------------------------------------
SEED = _env_int("SEED", 42)  # every random choice of the ML code
K_MIN = _env_int("SEGMENT_K_MIN", 2)
K_MAX = _env_int("SEGMENT_K_MAX", 10)
SEGMENT_ALGORITHM = _env("SEGMENT_ALGORITHM", "kmeans")  # or "agglomerative" (Ward); a DAG Param too
MINIBATCH_ABOVE = _env_int("MINIBATCH_ABOVE", 50_000)  # customers: MiniBatchKMeans beyond this
SILHOUETTE_SAMPLE = _env_int("SILHOUETTE_SAMPLE", 10_000)  # customers scored for silhouette
DBSCAN_SAMPLE = _env_int("DBSCAN_SAMPLE", 20_000)  # customers DBSCAN is fitted on; the rest: nearest core
AGGLOMERATIVE_SAMPLE = _env_int("AGGLOMERATIVE_SAMPLE", 20_000)

# --- recommendations (recommend_products DAG) --------------------------------------------------
TOP_K_SIMILAR = _env_int("TOP_K_SIMILAR", 20)  # neighbours kept per product and method
RECOMMENDATIONS_PER_LIST = _env_int("RECOMMENDATIONS_PER_LIST", 10)
SIMILARITY_BLOCK_ROWS = _env_int("SIMILARITY_BLOCK_ROWS", 2_000)  # products per block of the top-k
TEST_WINDOW_DAYS = _env_int("TEST_WINDOW_DAYS", 30)  # offline evaluation: last N days are the test
VALIDATION_WINDOW_DAYS = _env_int("VALIDATION_WINDOW_DAYS", 30)  # blend weights tuned on this, inside train
MIN_PAIR_SUPPORT = _env_float("MIN_PAIR_SUPPORT", 0.002)  # share of invoices, product_pairs

# --- operations (Airflow services, e2e tests) ---------------------------------------------------
AIRFLOW_ADMIN_PASSWORD = _env("AIRFLOW_ADMIN_PASSWORD", "admin")  # the UI/API login of AIRFLOW_ADMIN_USER

# --- recommendations, scoring (recommend_products DAG) ------------------------------------------
RECENT_POPULARITY_DAYS = _env_int("RECENT_POPULARITY_DAYS", 30)  # "popular now": the last N days
POPULAR_CANDIDATES = _env_int("POPULAR_CANDIDATES", 200)  # top popular products scored per customer
CUSTOMER_BLOCK_ROWS = _env_int("CUSTOMER_BLOCK_ROWS", 20_000)  # customers scored per block
CUSTOMER_NEIGHBOURS = _env_int("CUSTOMER_NEIGHBOURS", 100)  # most similar customers kept per customer

# --- segmentation: compute ------------------------------------------------------------------------
# BLAS/OpenMP threads of the segmentation fits. 1 by default: on a shared 2-core machine
# oversubscribed OpenMP threads made K-means 10-30x slower.
ML_THREADS = _env_int("ML_THREADS", 1)

# --- recommendations: content similarity at scale ------------------------------------------
# n-grams in more product descriptions than this are ignored: they cannot single out the top-k
# neighbours, but every two products sharing one cost a pair (quadratic without the cap).
CONTENT_MAX_NGRAM_PRODUCTS = _env_int("CONTENT_MAX_NGRAM_PRODUCTS", 1_000)

# --- serving (include/serve: the recommendation API and the run report) ------------------------
SERVE_PORT = _env_int("SERVE_PORT", 8090)  # `make serve`: the API alone on 127.0.0.1:SERVE_PORT
SERVE_POLL_SECONDS = _env_float("SERVE_POLL_SECONDS", 2.0)  # how often published.current_runs is read
SERVE_TOKEN_CACHE_SECONDS = _env_float("SERVE_TOKEN_CACHE_SECONDS", 30.0)  # a checked JWT is trusted 30 s
