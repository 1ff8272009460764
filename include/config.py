"""Every setting of the project in one place: paths, connection ids, schema names, thresholds,
grouped by the stage that uses them.

Each value can be overridden by an environment variable of the same name. A `.env` file at the
project root (or at `PIPELINE_ENV_FILE`) is read too (python-dotenv: `KEY=value  # comment` is
fine; the environment wins over `.env`); `.env.example` lists the variables, and every line of it
is valid uncommented as written (tests/unit/test_env_example.py). Nothing else in the project reads the
environment for configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

from include.ml import threads as _ml_threads


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = Path(os.environ.get("PIPELINE_ENV_FILE") or PROJECT_ROOT / ".env")
load_dotenv(ENV_FILE, override=False)

# --- local state (git-ignored) ---------------------------------------------------------------
LOCAL_DIR = Path(_env("PIPELINE_LOCAL_DIR", str(PROJECT_ROOT / ".local")))
PGDATA_DIR = LOCAL_DIR / "pgdata"
LANDING_DIR = Path(_env("PIPELINE_LANDING_DIR", str(LOCAL_DIR / "landing")))
DOWNLOAD_DIR = LOCAL_DIR / "downloads"
RUNS_DIR = Path(_env("PIPELINE_RUNS_DIR", str(LOCAL_DIR / "runs")))  # per-run artefacts
AIRFLOW_HOME = Path(_env("AIRFLOW_HOME", str(PROJECT_ROOT / ".airflow")))
SQL_DIR = PROJECT_ROOT / "sql"
SAMPLE_DIR = PROJECT_ROOT / "include" / "sample"
SAMPLE_SOURCE = SAMPLE_DIR / "online_retail_sample.zip"

# --- warehouse --------------------------------------------------------------------------------
# The warehouse is the Airflow connection DWH_CONN_ID (set it with AIRFLOW_CONN_POSTGRES_DWH).
# When neither it nor Airflow's metadata database is configured, the embedded PostgreSQL is used.
DWH_CONN_ID = _env("DWH_CONN_ID", "postgres_dwh")
DWH_CONN_ENV = f"AIRFLOW_CONN_{DWH_CONN_ID.upper()}"
EMBEDDED_PG_HOST = "127.0.0.1"
EMBEDDED_PG_PORT = _env_int("EMBEDDED_PG_PORT", 55432)
EMBEDDED_PG_USER = "postgres"
WAREHOUSE_DB = _env("WAREHOUSE_DB", "dwh")
METADATA_DB = _env("AIRFLOW_METADATA_DB", "airflow")
# The layers, in the order data flows through them (sql/schema/<schema>/ holds their DDL).
RAW_SCHEMA = "raw"  # as landed: text columns + load metadata
STAGING_SCHEMA = "staging"  # typed, cleaned; rejected rows with their reason
ML_SCHEMA = "ml"  # features, model inputs and run summaries
AUDIT_SCHEMA = "audit"  # runs, validations, timings, failures
PUBLISHED_SCHEMA = "published"  # every run's mart rows, keyed by run_id; current_runs points at one
MARTS_SCHEMA = "marts"  # views of the published run: what BI reads, and nothing else

# --- ingest_ecommerce ---------------------------------------------------------------------------
DEFAULT_KAGGLE_SLUG = "carrie1/ecommerce-data"
KAGGLE_CONN_ID = _env("KAGGLE_CONN_ID", "kaggle_default")
DOWNLOAD_TIMEOUT_SECONDS = _env_float("DOWNLOAD_TIMEOUT_SECONDS", 60.0)
DOWNLOAD_RETRIES = _env_int("DOWNLOAD_RETRIES", 3)
COPY_CHUNK_BYTES = _env_int("COPY_CHUNK_BYTES", 1 << 20)
RAW_LOADS_KEPT = _env_int("RAW_LOADS_KEPT", 3)

# --- validate_and_clean ---------------------------------------------------------------------------
MAX_REJECTED_SHARE = _env_float("MAX_REJECTED_SHARE", 0.05)  # above: the cleaning task fails
MAX_MAGNITUDE = _env_float("MAX_MAGNITUDE", 100_000)  # |quantity| or |price| beyond: rejected
# Memory of each sort/hash of the cleaning transaction: a million-line load sorts in
# memory instead of spilling to disk; per sort node and worker, so keep it well below RAM / 8.
STEP_WORK_MEM = _env("STEP_WORK_MEM", "256MB")
# A SQL statement running longer reports in the task log at this interval (time so far, wait
# event, bytes spilled, an index build's rows done and time left: include/db/watch.py); 0: off.
SQL_PROGRESS_SECONDS = _env_float("SQL_PROGRESS_SECONDS", 30.0)

# --- segment_customers ----------------------------------------------------------------------------
SEED = _env_int("SEED", 42)  # every random choice of the ML code
K_MIN = _env_int("SEGMENT_K_MIN", 2)
K_MAX = _env_int("SEGMENT_K_MAX", 10)
SEGMENT_ALGORITHM = _env("SEGMENT_ALGORITHM", "kmeans")  # or "agglomerative" (Ward); a DAG Param too
MINIBATCH_ABOVE = _env_int("MINIBATCH_ABOVE", 50_000)  # customers: MiniBatchKMeans beyond this
SILHOUETTE_SAMPLE = _env_int("SILHOUETTE_SAMPLE", 10_000)  # customers scored for silhouette
DBSCAN_SAMPLE = _env_int("DBSCAN_SAMPLE", 20_000)  # customers DBSCAN is fitted on; the rest: nearest core
AGGLOMERATIVE_SAMPLE = _env_int("AGGLOMERATIVE_SAMPLE", 20_000)
# BLAS/OpenMP threads of the ML fits (K-means' OpenMP, PCA's and the metrics' BLAS). Default:
# the cores available to this process // the tasks that can run on its machine at once
# (include/ml/threads.py: a Celery worker's concurrency, or core.parallelism for the
# LocalExecutor; ML_TASKS_PER_MACHINE overrides it), at least 1, so that a full worker never
# runs more threads than cores (oversubscribed OpenMP threads made K-means 10-30x slower).
# ML_THREADS sets the number outright.
ML_TASKS_PER_MACHINE = _ml_threads.tasks_per_machine(os.environ)
ML_THREADS = _env_int(
    "ML_THREADS", _ml_threads.default_threads(_ml_threads.available_cores(), ML_TASKS_PER_MACHINE)
)

# --- recommend_products ---------------------------------------------------------------------------
TOP_K_SIMILAR = _env_int("TOP_K_SIMILAR", 20)  # neighbours kept per product and method
RECOMMENDATIONS_PER_LIST = _env_int("RECOMMENDATIONS_PER_LIST", 10)
SIMILARITY_BLOCK_ROWS = _env_int("SIMILARITY_BLOCK_ROWS", 2_000)  # products per block of the top-k
MIN_PAIR_SUPPORT = _env_float("MIN_PAIR_SUPPORT", 0.002)  # share of invoices, product_pairs
CUSTOMER_BLOCK_ROWS = _env_int("CUSTOMER_BLOCK_ROWS", 5_000)  # customers scored (and written) per block
# Dynamic task mapping: build_similarity maps over blocks of products, build_recommendations
# over blocks of customers, one task instance per block (CeleryExecutor workers share them).
# Every block's task loads the whole history and refits what its block needs (the similarity
# features; the production fit of the hybrids: ALS, neighbour and similar-customers matrices),
# so a block costs that fit plus its own rows: blocks only pay when the rows dominate. The
# defaults keep Online Retail (~4,300 customers, ~3,800 products) at ONE task each, as fast as
# before; set e.g. 1_000 to spread a large shop over the workers. At most MAPPED_MAX_TASKS
# blocks per step (the blocks grow instead; Airflow's core.max_map_length is 1,024).
MAPPED_CUSTOMERS_PER_TASK = _env_int("MAPPED_CUSTOMERS_PER_TASK", 250_000)
MAPPED_PRODUCTS_PER_TASK = _env_int("MAPPED_PRODUCTS_PER_TASK", 50_000)
MAPPED_MAX_TASKS = _env_int("MAPPED_MAX_TASKS", 64)
# n-grams in more product descriptions than this are ignored: they cannot single out the top-k
# neighbours, but every two products sharing one cost a pair (quadratic without the cap).
CONTENT_MAX_NGRAM_PRODUCTS = _env_int("CONTENT_MAX_NGRAM_PRODUCTS", 1_000)
# The co-occurrence features keep each customer's N most recently bought products (linear work).
SIMILARITY_MAX_ITEMS_PER_CUSTOMER = _env_int("SIMILARITY_MAX_ITEMS_PER_CUSTOMER", 100)
# recommend_products, models: the hybrid's signals and the baselines (include/ml/baselines.py)
# Candidate neighbours per product kept for the item-kNN / RP3beta tuning (per ranking).
NEIGHBOUR_POOL = _env_int("NEIGHBOUR_POOL", 200)
# user-kNN: products with more buyers than this are left out of the customer similarity.
USER_KNN_MAX_ITEM_BUYERS = _env_int("USER_KNN_MAX_ITEM_BUYERS", 1_000)
# EASE^R inverts a dense products x products matrix (n^3 work, 3 x 4 n^2 bytes) per trial:
# skipped (logged, status 'skipped') above this catalogue. 10,000: ~1 GB, ~30 s a trial on a core.
EASE_MAX_PRODUCTS = _env_int("EASE_MAX_PRODUCTS", 10_000)
ALS_ITERATIONS = _env_int("ALS_ITERATIONS", 6)
# "similar customers bought lately": half-lives (days) the hybrid's tuning chooses among.
SIMILAR_CUSTOMERS_HALF_LIVES = tuple(
    float(x) for x in _env("SIMILAR_CUSTOMERS_HALF_LIVES", "3,7,14,30").split(",")
)
SIMILAR_CUSTOMERS_NEIGHBOURS = _env_int("SIMILAR_CUSTOMERS_NEIGHBOURS", 100)  # per product
# Candidates per signal the hybrid blends (the union of every signal's best N per customer).
HYBRID_CANDIDATES = _env_int("HYBRID_CANDIDATES", 100)
# recommend_products, tuning and evaluation (include/ml/protocol.py, include/ml/tuning.py)
TEST_WINDOW_DAYS = _env_int("TEST_WINDOW_DAYS", 30)  # offline evaluation: last N days are the test
VALIDATION_WINDOW_DAYS = _env_int("VALIDATION_WINDOW_DAYS", 30)  # every method tuned on this, inside train
# Optuna (seeded TPE): trials = clip(TRIALS_PER_PARAMETER x parameters, MIN, MAX) per method.
TUNING_TRIALS_PER_PARAMETER = _env_int("TUNING_TRIALS_PER_PARAMETER", 3)
TUNING_MIN_TRIALS = _env_int("TUNING_MIN_TRIALS", 8)
TUNING_MAX_TRIALS = _env_int("TUNING_MAX_TRIALS", 24)
# The evaluation fits (validation and test) use a seeded sample of this many customers, with
# all their purchases, in a larger shop (all customers below): tuning costs stay bounded.
EVALUATION_MAX_CUSTOMERS = _env_int("EVALUATION_MAX_CUSTOMERS", 100_000)
# ... and score at most this many customers per window and list type (a seeded sample).
EVALUATION_MAX_SCORED = _env_int("EVALUATION_MAX_SCORED", 10_000)
MIN_EVALUATION_CUSTOMERS = _env_int("MIN_EVALUATION_CUSTOMERS", 20)  # fewer: not evaluated
BOOTSTRAP_RESAMPLES = _env_int("BOOTSTRAP_RESAMPLES", 2_000)
# Processes tuning methods at once: 2 (or more) = the task's process and one side process
# (include/ml/side_process.py: ALS and sparse_dot_topn hold the GIL, so threads would not
# share the work); each keeps its BLAS/OpenMP work at ML_THREADS. 1: one method after the
# other. The side process starts only for a validation fit of SIDE_PROCESS_MIN_PAIRS purchase
# pairs (customer x product) or more: below, its start (about a second) costs more than it saves.
RECOMMEND_WORKERS = _env_int("RECOMMEND_WORKERS", 2)
SIDE_PROCESS_MIN_PAIRS = _env_int("SIDE_PROCESS_MIN_PAIRS", 50_000)
# The lists' production fit computes ALS beside the neighbour matrices up to this many purchase
# pairs (customer x product); above, one after the other: both hold gigabytes of intermediates
# at 1M customers (peak 4.3 GB at once, 3.5 GB in turn: bench/recommendation_scale.py).
ALS_BESIDE_MAX_PAIRS = _env_int("ALS_BESIDE_MAX_PAIRS", 5_000_000)

# --- publish_marts and BI access --------------------------------------------------------------------
RUNS_KEPT = _env_int("RUNS_KEPT", 5)  # past runs of every mart kept in published.*
BI_ROLE = _env("BI_ROLE", "bi_reader")
BI_READER_PASSWORD = _env("BI_READER_PASSWORD", "")  # set it; the embedded server trusts local logins
PRICE_BANDS = _env_int("PRICE_BANDS", 5)  # marts.dim_products.price_band: quantile bands of unit price
PRODUCT_GROUP_MIN_PRODUCTS = _env_int("PRODUCT_GROUP_MIN_PRODUCTS", 10)  # descriptions a group word must end
TABLEAU_TDS_PATH = PROJECT_ROOT / "docs" / "tableau" / "marts.tds"  # embedded warehouse (EMBEDDED_PG_PORT)
TABLEAU_COMPOSE_TDS_PATH = PROJECT_ROOT / "docs" / "tableau" / "marts_compose.tds"  # docker compose
COMPOSE_WAREHOUSE_PORT = _env_int("COMPOSE_WAREHOUSE_PORT", 5433)  # docker-compose.yaml publishes it
DATA_DICTIONARY_PATH = PROJECT_ROOT / "docs" / "data_dictionary.md"

# --- every DAG: retries, runbook, Airflow services -------------------------------------------------
TASK_RETRIES = _env_int("TASK_RETRIES", 2)  # with exponential backoff from RETRY_DELAY_SECONDS
RETRY_DELAY_SECONDS = _env_float("RETRY_DELAY_SECONDS", 30)
AIRFLOW_API_PORT = _env_int("AIRFLOW_API_PORT", 8080)
# docs/runbook.md as served by the recommendation app in the api-server (failure links in task logs)
RUNBOOK_URL = _env("RUNBOOK_URL", f"http://127.0.0.1:{AIRFLOW_API_PORT}/recommendations/docs/runbook.md")
# Failure notifications (include/notifications.py), each channel on when its Airflow connection
# exists: e-mail through AIRFLOW_CONN_SMTP_NOTIFICATIONS, a webhook (Slack or any JSON endpoint)
# through AIRFLOW_CONN_WEBHOOK_NOTIFICATIONS.
NOTIFY_SMTP_CONN_ID = _env("NOTIFY_SMTP_CONN_ID", "smtp_notifications")
NOTIFY_EMAIL_TO = _env("NOTIFY_EMAIL_TO", "")  # comma-separated; else the connection's "to" extra
NOTIFY_EMAIL_FROM = _env("NOTIFY_EMAIL_FROM", "")  # else the connection's "from_email" extra
NOTIFY_WEBHOOK_CONN_ID = _env("NOTIFY_WEBHOOK_CONN_ID", "webhook_notifications")
AIRFLOW_ADMIN_USER = "admin"
AIRFLOW_ADMIN_PASSWORD = _env("AIRFLOW_ADMIN_PASSWORD", "admin")  # the UI/API login of AIRFLOW_ADMIN_USER

# --- serving (include/serve: the recommendation API and the run report) ------------------------
SERVE_PORT = _env_int("SERVE_PORT", 8090)  # `make serve`: the API alone on 127.0.0.1:SERVE_PORT
SERVE_WORKERS = _env_int("SERVE_WORKERS", 1)  # `make serve`: processes sharing the port, one snapshot each
SERVE_POLL_SECONDS = _env_float("SERVE_POLL_SECONDS", 2.0)  # how often published.current_runs is read
SERVE_TOKEN_CACHE_SECONDS = _env_float("SERVE_TOKEN_CACHE_SECONDS", 30.0)  # a checked JWT is trusted 30 s
