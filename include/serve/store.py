"""The published marts the API answers from, held in memory, one run at a time.

`load_snapshot` reads the marts through their views in ONE read-only repeatable-read
transaction (the pointers of published.current_runs and every row seen at the same instant),
with COPY, and turns them into lookup structures: a dict from each key (customer and list,
product and method, ...) to a slice of plain Python column lists, so that an answer is a slice
and a small dict, never a query. The basket index is built once per run (include.serve.basket).

`Store` polls the pointers (one small query every SERVE_POLL_SECONDS) in a background thread;
when one moves it loads the new run beside the old one and swaps a single reference. A request
takes the reference once (`store.current()`) and answers from that snapshot only, so no answer
mixes two runs, and requests in flight during a swap finish on the run they started with.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg

from include import config
from include.serve import basket

log = logging.getLogger(__name__)

POPULATION = "transactions"  # the population whose customers the API knows
RECOMMENDATION_MARTS = ("customer_recommendations", "product_similarity", "product_pairs")
SEGMENTATION_MARTS = ("customer_segments", "segment_profiles")
MARTS = (*RECOMMENDATION_MARTS, *SEGMENTATION_MARTS)
MAX_N = 100  # the largest list an endpoint returns (n=1..MAX_N)
BEST_SELLERS = 200  # kept for the cold-start list and the basket fill

# One query per mart, through its marts view; numbers as float8 (JSON-ready), dates as text.
QUERIES = {
    "customer_recommendations": (
        "select customer_id, list_type, rank, product_id, description, score, reason, is_cold_start"
        " from marts.customer_recommendations order by customer_id, list_type, rank"
    ),
    "product_similarity": (
        "select product_id, method, rank, similar_product_id, score, product_description,"
        " similar_product_description from marts.product_similarity order by product_id, method, rank"
    ),
    # per product: the MAX_N highest lifts (bought-together) and the most confident pairs (basket)
    "product_pairs": (
        "with ranked as ("
        " select product_id, other_product_id, invoices, support, confidence, lift, product_invoices,"
        " total_invoices,"
        " row_number() over (partition by product_id order by lift desc, other_product_id) as lift_rank,"
        " row_number() over (partition by product_id order by confidence desc, other_product_id)"
        " as confidence_rank"
        " from marts.product_pairs)"
        " select product_id, other_product_id, invoices, support, confidence, lift, product_invoices,"
        " total_invoices, confidence_rank <= %(basket_pairs)s as for_basket from ranked"
        " where lift_rank <= %(max_n)s or confidence_rank <= %(basket_pairs)s"
        " order by product_id, lift_rank"
    ),
    "customer_segments": (
        "select customer_id, segment_id, segment_name, kmeans_cluster, dbscan_cluster, is_outlier,"
        " pca_x, pca_y, as_of_date::text as as_of_date, country, recency_days, frequency,"
        " monetary::float8 as monetary, gross_revenue::float8 as gross_revenue,"
        " returns_amount::float8 as returns_amount, tenure_days, avg_basket_value::float8 as avg_basket_value,"
        " distinct_products, return_rate::float8 as return_rate,"
        " avg_days_between_orders::float8 as avg_days_between_orders"
        " from marts.customer_segments order by customer_id"
    ),
    "segment_profiles": (
        "select segment_id, segment_name, algorithm, customers, customer_share::float8 as customer_share,"
        " revenue::float8 as revenue, revenue_share::float8 as revenue_share, outliers,"
        " median_recency_days::float8 as median_recency_days, median_frequency::float8 as median_frequency,"
        " median_monetary::float8 as median_monetary, median_tenure_days::float8 as median_tenure_days,"
        " median_avg_basket_value::float8 as median_avg_basket_value,"
        " median_distinct_products::float8 as median_distinct_products,"
        " median_return_rate::float8 as median_return_rate, top_countries, top_products"
        " from marts.segment_profiles order by segment_id"
    ),
}
CUSTOMER_FEATURES = (
    "country",
    "recency_days",
    "frequency",
    "monetary",
    "gross_revenue",
    "returns_amount",
    "tenure_days",
    "avg_basket_value",
    "distinct_products",
    "return_rate",
    "avg_days_between_orders",
)
FETCH_ROWS = 5_000  # rows converted per step of a load; the serving threads run between steps


class NotPublished(RuntimeError):
    """The warehouse has no published run of a mart the API needs (yet)."""


@dataclass(frozen=True)
class Columns:
    """Rows of one mart grouped by a key: `index[key]` = (start, stop) into every column list."""

    index: dict
    columns: dict[str, list]

    def rows(self, key, n: int) -> dict[str, list] | None:
        bounds = self.index.get(key)
        if bounds is None:
            return None
        start, stop = bounds
        stop = min(stop, start + n)
        return {name: values[start:stop] for name, values in self.columns.items()}


@dataclass(frozen=True)
class Snapshot:
    """One run's marts, ready to answer from. Never modified after it is built."""

    runs: dict[str, str]  # mart -> run_id
    published_at: datetime  # when the newest of those marts was published
    loaded_at: datetime
    load_seconds: float
    rows: dict[str, int]
    descriptions: dict[str, str]  # product_id -> description (the catalogue)
    product_ids: list[str]  # sorted; the position of a product is its index here
    position: dict[str, int]
    lists: Columns  # (customer_id, list_type) -> product_id, description, score, reason
    cold_start_customers: frozenset[int]  # registered customers without purchases (mart lists)
    similar: Columns  # (product_id, method) -> similar_product_id, score
    pairs: Columns  # product_id -> other_product_id, invoices, support, confidence, lift
    neighbours: basket.NeighbourIndex
    segments: dict[int, dict]  # customer_id -> JSON-ready segment answer (without run_id)
    profiles: dict[int, dict]  # segment_id -> JSON-ready profile
    model_dir: Path  # the segmentation run's saved models (manifest.json inside)

    @property
    def recommendation_run_id(self) -> str:
        return self.runs["customer_recommendations"]

    @property
    def segmentation_run_id(self) -> str:
        return self.runs["customer_segments"]

    def best_sellers(self, n: int) -> list[tuple[str, float]]:
        ids = self.neighbours.best_sellers[:n].tolist()
        scores = self.neighbours.best_seller_scores[:n].tolist()
        return [(self.product_ids[i], s) for i, s in zip(ids, scores, strict=True)]


# --- loading ---------------------------------------------------------------------------------


def read_pointers(conn: psycopg.Connection) -> dict[str, tuple[str, datetime]]:
    """{mart: (run_id, published_at)} of the marts the API reads; {} before any publication."""
    if conn.execute("select to_regclass('published.current_runs') is null").fetchone()[0]:
        return {}
    rows = conn.execute(
        "select mart, run_id, published_at from published.current_runs where mart = any(%s)", (list(MARTS),)
    ).fetchall()
    return {mart: (run_id, published_at) for mart, run_id, published_at in rows}


def fetch_columns(conn: psycopg.Connection, query: str, params: dict | None = None) -> dict[str, list]:
    """{column: values} of `query`, converted FETCH_ROWS rows at a time with a pause between
    steps: a reload in the background never holds the interpreter for long."""
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    columns: dict[str, list] = {name: [] for name in names}
    while rows := cur.fetchmany(FETCH_ROWS):
        for name, values in zip(names, zip(*rows, strict=True), strict=True):
            columns[name].extend(values)
        time.sleep(0.001)
    return columns


def load_snapshot(uri: str | None = None) -> Snapshot:
    """Read the published marts the API needs, all as of one instant; raise NotPublished when
    one of them has never been published."""
    from include.db.connection import warehouse_uri

    started = time.monotonic()
    with psycopg.connect(uri or warehouse_uri()) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            pointers = read_pointers(conn)
            missing = [m for m in MARTS if m not in pointers]
            if missing:
                raise NotPublished(f"published.current_runs has no run for marts {missing} yet")
            params = {"max_n": MAX_N, "basket_pairs": basket.PAIRS_PER_PRODUCT}
            frames = {mart: fetch_columns(conn, QUERIES[mart], params) for mart in MARTS}
            segmentation_run = pointers["customer_segments"][0]
            row = conn.execute(
                "select model_dir from ml.segmentation_runs where run_id = %s and population = %s",
                (segmentation_run, POPULATION),
            ).fetchone()
    runs = {mart: run_id for mart, (run_id, _) in pointers.items()}
    for group in (RECOMMENDATION_MARTS, SEGMENTATION_MARTS):
        if len({runs[m] for m in group}) != 1:  # activate() moves a stage's pointers together
            raise NotPublished(f"marts {group} point at different runs: {[runs[m] for m in group]}")
    if row is None:
        raise NotPublished(
            f"ml.segmentation_runs has no row for run {segmentation_run}, population {POPULATION}:"
            " its saved models cannot be found"
        )
    snapshot = build_snapshot(
        runs,
        max(published_at for _, published_at in pointers.values()),
        frames,
        Path(row[0]),
        started,
    )
    log.info(
        "loaded recommendations of run %s and segments of run %s: %s rows in %.2f s",
        snapshot.recommendation_run_id,
        snapshot.segmentation_run_id,
        snapshot.rows,
        snapshot.load_seconds,
    )
    return snapshot


def _grouped(keys: list, columns: dict[str, list]) -> Columns:
    """`columns` (rows sorted by `keys`, one key per row) and {key: (start, stop)}."""
    index: dict = {}
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            index[keys[start]] = (start, i)
            start = i
    return Columns(index, columns)


def build_snapshot(
    runs: dict[str, str],
    published_at: datetime,
    marts: dict[str, dict[str, list]],
    model_dir: Path,
    started: float,
) -> Snapshot:
    """The lookup structures of one run's marts (`marts`: {mart: {column: values}})."""
    similarity = marts["product_similarity"]
    pairs = marts["product_pairs"]
    lists = marts["customer_recommendations"]
    descriptions: dict[str, str] = {}
    for ids, texts in (
        (similarity["product_id"], similarity["product_description"]),
        (similarity["similar_product_id"], similarity["similar_product_description"]),
        (lists["product_id"], lists["description"]),
    ):
        for product_id, description in zip(ids, texts, strict=True):
            descriptions.setdefault(product_id, description)
    for product_id in (*pairs["product_id"], *pairs["other_product_id"]):
        descriptions.setdefault(product_id, "")
    product_ids = sorted(descriptions)
    position = {p: i for i, p in enumerate(product_ids)}

    invoices = dict(
        zip(
            pairs["product_id"],
            zip(pairs["product_invoices"], pairs["total_invoices"], strict=True),
            strict=True,
        )
    )
    sellers = sorted(((-n / total, p) for p, (n, total) in invoices.items()))[:BEST_SELLERS]
    basket_rows = [i for i, flag in enumerate(pairs["for_basket"]) if flag]
    edges = [
        (
            "pair",
            np.array([position[pairs["product_id"][i]] for i in basket_rows], dtype=np.int64),
            np.array([position[pairs["other_product_id"][i]] for i in basket_rows], dtype=np.int64),
            np.array([pairs["confidence"][i] for i in basket_rows], dtype=np.float64),
        )
    ]
    for method in ("co_purchase", "content"):
        rows = [i for i, m in enumerate(similarity["method"]) if m == method]
        edges.append(
            (
                method,
                np.array([position[similarity["product_id"][i]] for i in rows], dtype=np.int64),
                np.array([position[similarity["similar_product_id"][i]] for i in rows], dtype=np.int64),
                np.array([similarity["score"][i] for i in rows], dtype=np.float64),
            )
        )
    neighbours = basket.build_index(
        len(product_ids),
        edges,
        np.array([position[p] for _, p in sellers], dtype=np.int64),
        np.array([-score for score, _ in sellers], dtype=np.float64),
    )

    profile_cols = marts["segment_profiles"]
    profiles = {
        row["segment_id"]: row
        for row in (
            dict(zip(profile_cols, values, strict=True))
            for values in zip(*profile_cols.values(), strict=True)
        )
    }
    segment_cols = marts["customer_segments"]
    answers = {}
    for values in zip(*segment_cols.values(), strict=True):
        r = dict(zip(segment_cols, values, strict=True))
        answers[r["customer_id"]] = {
            "customer_id": r["customer_id"],
            "segment_id": r["segment_id"],
            "segment_name": r["segment_name"],
            "is_outlier": r["is_outlier"],
            "kmeans_cluster": r["kmeans_cluster"],
            "pca_x": r["pca_x"],
            "pca_y": r["pca_y"],
            "as_of_date": r["as_of_date"],
            "features": {k: r[k] for k in CUSTOMER_FEATURES},
            "segment": profiles.get(r["segment_id"]),
        }
    list_keys = list(zip(lists["customer_id"], lists["list_type"], strict=True))
    similar_keys = list(zip(similarity["product_id"], similarity["method"], strict=True))
    return Snapshot(
        runs=runs,
        published_at=published_at,
        loaded_at=datetime.now(UTC),
        load_seconds=round(time.monotonic() - started, 3),
        rows={mart: len(next(iter(columns.values()), [])) for mart, columns in marts.items()},
        descriptions=descriptions,
        product_ids=product_ids,
        position=position,
        lists=_grouped(
            list_keys, {c: lists[c] for c in ("rank", "product_id", "description", "score", "reason")}
        ),
        cold_start_customers=frozenset(
            c for c, cold in zip(lists["customer_id"], lists["is_cold_start"], strict=True) if cold
        ),
        similar=_grouped(similar_keys, {c: similarity[c] for c in ("rank", "similar_product_id", "score")}),
        pairs=_grouped(
            pairs["product_id"],
            {c: pairs[c] for c in ("other_product_id", "invoices", "support", "confidence", "lift")},
        ),
        neighbours=neighbours,
        segments=answers,
        profiles=profiles,
        model_dir=model_dir,
    )


# --- the store -------------------------------------------------------------------------------


@dataclass
class Store:
    """The current snapshot and the thread that keeps it current."""

    uri: str | None = None
    poll_seconds: float = config.SERVE_POLL_SECONDS
    last_error: str | None = None
    last_check_at: datetime | None = None
    reloads: int = 0
    _snapshot: Snapshot | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _poll_conn: psycopg.Connection | None = field(default=None, repr=False)

    def current(self) -> Snapshot | None:
        """The snapshot to answer one request from (take it once per request)."""
        return self._snapshot

    def _pointers(self) -> dict[str, str]:
        from include.db.connection import warehouse_uri

        if self._poll_conn is None or self._poll_conn.closed:
            self._poll_conn = psycopg.connect(self.uri or warehouse_uri(), autocommit=True)
        try:
            return {mart: run_id for mart, (run_id, _) in read_pointers(self._poll_conn).items()}
        except psycopg.Error:
            self._poll_conn.close()
            self._poll_conn = None
            raise

    def refresh(self) -> bool:
        """Load the published run if the pointers moved (or nothing is loaded); True if swapped."""
        try:
            pointers = self._pointers()
            self.last_check_at = datetime.now(UTC)
            current = self._snapshot
            if current is not None and all(pointers.get(m) == current.runs[m] for m in MARTS):
                self.last_error = None
                return False
            if any(m not in pointers for m in MARTS):
                raise NotPublished(
                    f"published.current_runs has no run for marts {sorted(set(MARTS) - set(pointers))}"
                )
            snapshot = load_snapshot(self.uri)
        except NotPublished as err:
            self.last_error = str(err)
            return False
        except (psycopg.Error, OSError, ValueError, KeyError) as err:
            self.last_error = f"{type(err).__name__}: {err}"
            log.warning(
                "published marts not (re)loaded, still answering from the loaded run: %s", self.last_error
            )
            return False
        self._snapshot = snapshot  # the swap: one reference assignment
        self.reloads += 1
        self.last_error = None
        return True

    def start(self) -> None:
        """Poll in a daemon thread until `stop()`; the first load happens there too."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="serve-store", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.poll_seconds)
        if self._poll_conn is not None:
            self._poll_conn.close()
            self._poll_conn = None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def wait_loaded(self, timeout: float) -> Snapshot:
        """Block until a snapshot is loaded (tests, the bench); raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while (snapshot := self._snapshot) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no published run loaded within {timeout:.0f} s: {self.last_error}")
            time.sleep(0.1)
        return snapshot
