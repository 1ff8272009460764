"""The published marts the API answers from, held in memory, one run at a time.

`load_snapshot` reads the marts through their views in ONE read-only repeatable-read
transaction: the pointers of published.current_runs and every row are seen as of the same
instant. PostgreSQL does the heavy part (in its own process): it groups the rows by the key an
endpoint looks up and renders each item as JSON, so the snapshot is a few dicts from a key
(customer and list, product and method, product) to the JSON texts of its items in rank order,
and an answer is a slice of them joined into a small envelope, never a query. The basket index
(include.serve.basket) is built from the same marts as arrays of product positions.

`Store` polls the pointers (one small query every SERVE_POLL_SECONDS) in a background thread;
when one moves it loads the new run beside the old one and swaps a single reference. A request
takes the reference once (`store.current()`) and answers from that snapshot only, so no answer
mixes two runs, and requests in flight during a swap finish on the run they started with.
"""

from __future__ import annotations

import json
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
COLD_START_REASON = "new customer: a best seller"
FETCH_ROWS = 500  # rows converted per step of a load; the serving threads run between steps
SIGNAL_CODES = {name: code for code, name in enumerate(basket.SIGNALS)}

# The catalogue: every product a mart names, with its description, in code point order (the
# position of a product is its index); later queries receive it as the array %(catalogue)s.
CATALOGUE_SQL = """
with named as (
    select product_id, product_description as description from marts.product_similarity
    union all select similar_product_id, similar_product_description from marts.product_similarity
    union all select product_id, description from marts.customer_recommendations
    union all select product_id, '' from marts.product_pairs
    union all select other_product_id, '' from marts.product_pairs
)
select product_id, max(description) from named group by product_id order by product_id collate "C"
"""
CATALOGUE_CTE = """catalogue as (
    select product_id, description, (position - 1)::int as position
      from unnest(%(catalogue)s::text[], %(descriptions)s::text[]) with ordinality
           as c(product_id, description, position)
)"""
LISTS_SQL = """
select customer_id, list_type, bool_or(is_cold_start),
       array_agg(json_build_object('rank', rank, 'product_id', product_id, 'description', description,
                                   'score', score, 'reason', reason)::text order by rank)
  from marts.customer_recommendations
 group by customer_id, list_type
"""
SIMILAR_SQL = """
select product_id, method,
       array_agg(json_build_object('rank', rank, 'product_id', similar_product_id,
                                   'description', similar_product_description, 'score', score)::text
                 order by rank)
  from marts.product_similarity
 group by product_id, method
"""
PAIRS_SQL = f"""
with {CATALOGUE_CTE},
ranked as (
    select product_id, other_product_id, invoices, support, confidence, lift,
           row_number() over (partition by product_id order by lift desc, other_product_id) as rank
      from marts.product_pairs
)
select r.product_id,
       array_agg(json_build_object('rank', r.rank, 'product_id', r.other_product_id,
                                   'description', coalesce(c.description, ''), 'invoices', r.invoices,
                                   'support', r.support, 'confidence', r.confidence, 'lift', r.lift)::text
                 order by r.rank)
  from ranked as r
  left join catalogue as c on c.product_id = r.other_product_id
 where r.rank <= %(max_n)s
 group by r.product_id
"""
# Basket edges per source product: its most confident pairs and its similarity neighbours.
EDGES_SQL = f"""
with {CATALOGUE_CTE},
pairs as (
    select product_id, other_product_id as target_id, confidence as weight, %(pair)s as signal,
           row_number() over (partition by product_id order by confidence desc, other_product_id) as rank
      from marts.product_pairs
),
edges as (
    select product_id, target_id, weight, signal from pairs where rank <= %(basket_pairs)s
    union all
    select product_id, similar_product_id, score,
           case method when 'co_purchase' then %(co_purchase)s else %(content)s end
      from marts.product_similarity
)
select s.position, array_agg(t.position order by e.signal, t.position),
       array_agg(e.weight order by e.signal, t.position), array_agg(e.signal order by e.signal, t.position)
  from edges as e
  join catalogue as s on s.product_id = e.product_id
  join catalogue as t on t.product_id = e.target_id
 group by s.position
"""
BEST_SELLERS_SQL = """
select product_id, max(product_invoices)::float8 / max(total_invoices) as score
  from marts.product_pairs
 group by product_id
 order by score desc, product_id collate "C"
 limit %(best)s
"""
PROFILE_JSON = """json_build_object(
    'segment_id', segment_id, 'segment_name', segment_name, 'algorithm', algorithm,
    'customers', customers, 'customer_share', customer_share::float8, 'revenue', revenue::float8,
    'revenue_share', revenue_share::float8, 'outliers', outliers,
    'median_recency_days', median_recency_days::float8, 'median_frequency', median_frequency::float8,
    'median_monetary', median_monetary::float8, 'median_tenure_days', median_tenure_days::float8,
    'median_avg_basket_value', median_avg_basket_value::float8,
    'median_distinct_products', median_distinct_products::float8,
    'median_return_rate', median_return_rate::float8, 'top_countries', top_countries,
    'top_products', top_products)"""
PROFILES_SQL = f"select segment_id, {PROFILE_JSON}::text from marts.segment_profiles"
SEGMENTS_SQL = f"""
with profiles as (select segment_id, {PROFILE_JSON} as profile from marts.segment_profiles)
select s.customer_id,
       json_build_object(
           'customer_id', s.customer_id, 'segment_id', s.segment_id, 'segment_name', s.segment_name,
           'is_outlier', s.is_outlier, 'kmeans_cluster', s.kmeans_cluster, 'pca_x', s.pca_x,
           'pca_y', s.pca_y, 'as_of_date', s.as_of_date::text,
           'features', json_build_object(
               'country', s.country, 'recency_days', s.recency_days, 'frequency', s.frequency,
               'monetary', s.monetary::float8, 'gross_revenue', s.gross_revenue::float8,
               'returns_amount', s.returns_amount::float8, 'tenure_days', s.tenure_days,
               'avg_basket_value', s.avg_basket_value::float8, 'distinct_products', s.distinct_products,
               'return_rate', s.return_rate::float8,
               'avg_days_between_orders', s.avg_days_between_orders::float8),
           'segment', p.profile)::text
  from marts.customer_segments as s
  left join profiles as p on p.segment_id = s.segment_id
"""
COUNTS_SQL = "select " + ", ".join(f"(select count(*) from marts.{m})" for m in MARTS)


class NotPublished(RuntimeError):
    """The warehouse has no published run of a mart the API needs (yet)."""


@dataclass(frozen=True)
class Snapshot:
    """One run's marts, ready to answer from. Never modified after it is built."""

    runs: dict[str, str]  # mart -> run_id
    published_at: datetime  # when the newest of those marts was published
    loaded_at: datetime
    load_seconds: float
    rows: dict[str, int]
    product_ids: list[str]  # code point order; the position of a product is its index
    position: dict[str, int]
    descriptions: dict[str, str]  # product_id -> description (the catalogue)
    lists: dict[tuple[int, str], list[str]]  # (customer_id, list_type) -> JSON items in rank order
    cold_start_customers: frozenset[int]  # registered customers without purchases (mart lists)
    similar: dict[tuple[str, str], list[str]]  # (product_id, method) -> JSON items
    pairs: dict[str, list[str]]  # product_id -> JSON items, highest lift first (MAX_N at most)
    best_seller_items: list[str]  # the cold-start list: JSON items in rank order
    neighbours: basket.NeighbourIndex
    segments: dict[int, str]  # customer_id -> JSON object of its segment answer (without run_id)
    profiles: dict[int, dict]  # segment_id -> profile
    model_dir: Path  # the segmentation run's saved models (manifest.json inside)

    @property
    def recommendation_run_id(self) -> str:
        return self.runs["customer_recommendations"]

    @property
    def segmentation_run_id(self) -> str:
        return self.runs["customer_segments"]


def envelope(header: dict, items: list[str] | None = None) -> bytes:
    """`header` as a JSON object, with `"items": [...]` of pre-rendered JSON items appended."""
    text = json.dumps(header, separators=(",", ":"), allow_nan=False)
    if items is None:
        return text.encode()
    return (text[:-1] + ',"items":[' + ",".join(items) + "]}").encode()


def with_run(run_id: str, answer: str) -> bytes:
    """A pre-rendered JSON object with "run_id" put first."""
    return ('{"run_id":' + json.dumps(run_id) + "," + answer.lstrip()[1:]).encode()


# --- loading ---------------------------------------------------------------------------------


def read_pointers(conn: psycopg.Connection) -> dict[str, tuple[str, datetime]]:
    """{mart: (run_id, published_at)} of the marts the API reads; {} before any publication."""
    if conn.execute("select to_regclass('published.current_runs') is null").fetchone()[0]:
        return {}
    rows = conn.execute(
        "select mart, run_id, published_at from published.current_runs where mart = any(%s)", (list(MARTS),)
    ).fetchall()
    return {mart: (run_id, published_at) for mart, run_id, published_at in rows}


def fetch(conn: psycopg.Connection, query: str, params: dict | None = None) -> list[tuple]:
    """The rows of `query`, converted FETCH_ROWS at a time with a pause between steps: a load in
    the background never holds the interpreter for long."""
    cur = conn.execute(query, params)
    rows: list[tuple] = []
    while chunk := cur.fetchmany(FETCH_ROWS):
        rows.extend(chunk)
        time.sleep(0.0005)
    return rows


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
            catalogue = fetch(conn, CATALOGUE_SQL)
            params = {
                "catalogue": [p for p, _ in catalogue],
                "descriptions": [d for _, d in catalogue],
                "max_n": MAX_N,
                "basket_pairs": basket.PAIRS_PER_PRODUCT,
                "best": BEST_SELLERS,
                **SIGNAL_CODES,
            }
            lists = fetch(conn, LISTS_SQL)
            similar = fetch(conn, SIMILAR_SQL)
            pairs = fetch(conn, PAIRS_SQL, params)
            edges = fetch(conn, EDGES_SQL, params)
            sellers = fetch(conn, BEST_SELLERS_SQL, params)
            segments = fetch(conn, SEGMENTS_SQL)
            profiles = fetch(conn, PROFILES_SQL)
            counts = conn.execute(COUNTS_SQL).fetchone()
            segmentation_run = pointers["customer_segments"][0]
            model = conn.execute(
                "select model_dir from ml.segmentation_runs where run_id = %s and population = %s",
                (segmentation_run, POPULATION),
            ).fetchone()
    runs = {mart: run_id for mart, (run_id, _) in pointers.items()}
    for group in (RECOMMENDATION_MARTS, SEGMENTATION_MARTS):
        if len({runs[m] for m in group}) != 1:  # activate() moves a stage's pointers together
            raise NotPublished(f"marts {group} point at different runs: {[runs[m] for m in group]}")
    if model is None:
        raise NotPublished(
            f"ml.segmentation_runs has no row for run {segmentation_run}, population {POPULATION}:"
            " its saved models cannot be found"
        )
    product_ids = [p for p, _ in catalogue]
    position = {p: i for i, p in enumerate(product_ids)}
    descriptions = dict(catalogue)
    best = [(position[p], score) for p, score in sellers]
    best_items = [
        json.dumps(
            {
                "rank": rank,
                "product_id": product_ids[pos],
                "description": descriptions[product_ids[pos]],
                "score": score,
                "reason": COLD_START_REASON,
            },
            separators=(",", ":"),
        )
        for rank, (pos, score) in enumerate(best, start=1)
    ]
    source, target, weight, signal = [], [], [], []
    for pos, targets, weights, signals in edges:
        source.extend([pos] * len(targets))
        target.extend(targets)
        weight.extend(weights)
        signal.extend(signals)
    neighbours = basket.build_index(
        len(product_ids),
        np.array(source, dtype=np.int64),
        np.array(target, dtype=np.int64),
        np.array(weight, dtype=np.float64),
        np.array(signal, dtype=np.int8),
        np.array([pos for pos, _ in best], dtype=np.int64),
        np.array([score for _, score in best], dtype=np.float64),
    )
    snapshot = Snapshot(
        runs=runs,
        published_at=max(published_at for _, published_at in pointers.values()),
        loaded_at=datetime.now(UTC),
        load_seconds=round(time.monotonic() - started, 3),
        rows=dict(zip(MARTS, counts, strict=True)),
        product_ids=product_ids,
        position=position,
        descriptions=descriptions,
        lists={(customer, list_type): items for customer, list_type, _, items in lists},
        cold_start_customers=frozenset(customer for customer, _, cold, _ in lists if cold),
        similar={(product, method): items for product, method, items in similar},
        pairs=dict(pairs),
        best_seller_items=best_items,
        neighbours=neighbours,
        segments=dict(segments),
        profiles={segment_id: json.loads(profile) for segment_id, profile in profiles},
        model_dir=Path(model[0]),
    )
    log.info(
        "loaded recommendations of run %s and segments of run %s: %s rows in %.2f s",
        snapshot.recommendation_run_id,
        snapshot.segmentation_run_id,
        snapshot.rows,
        snapshot.load_seconds,
    )
    return snapshot


# --- the store -------------------------------------------------------------------------------


def settle_heap() -> None:
    """After a swap: collect the previous run's leftovers once, then move every live object (the
    snapshot's few hundred thousand dicts, lists and tuples) out of the cyclic garbage
    collector's sight (`gc.freeze`). Without it each full collection walks the whole snapshot
    and stalls every request in flight for tens of milliseconds."""
    import gc

    gc.unfreeze()
    gc.collect()
    gc.freeze()


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
        del current
        settle_heap()
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
