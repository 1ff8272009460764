"""Benchmark: the recommendation API under a bounded open-loop load, on loopback.

    make demo SOURCE=../shared/datasets/ecommerce-data.zip   # once: the full data published
    make serve &                                             # the API alone (SERVE_PORT, default 8090)
    .venv/bin/python bench/api_latency.py [--url URL] [--token TOKEN] [--seconds 60] [--rps 500]

`--url` defaults to make serve's address; for the app inside the api-server pass
`--url http://127.0.0.1:$AIRFLOW_API_PORT/recommendations`. `--token` defaults to one from the
api-server's POST /auth/token (admin login) or, when no api-server answers, one minted with the
local JWT secret by Airflow's own auth manager.

Open loop: requests are due at a fixed rate whatever the answers, over keep-alive connections
(a hand-rolled HTTP/1.1 client on asyncio + uvloop: a few microseconds per request, so the load
generator does not compete with the server for the two cores). A latency is measured from the
moment its request was due, so time spent queueing counts. At most --max-queued requests wait
for a connection; a due request beyond that is an error ("overload"). Customer and product ids
are drawn from the published marts (products weighted by how many invoices hold them, 5 % of
customers unknown to the run), with this mix: customer lists (discover, buy again), similar
products (co_purchase, content), bought together, the basket POST, a customer's segment and
POST /segments/score.

`--switch-every S` moves the pointers of the recommendation and segmentation marts between the
published run and the previous kept one every S seconds during the load (what a publication, or
a rollback to a kept run, does to readers), then puts them back: no request may fail, and every
answer names one of the two runs.

Prints one line per endpoint, then `p50_ms=... p95_ms=... p99_ms=... errors=... rps=...`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from include import config  # noqa: E402
from tools import runtime  # noqa: E402

MIX = {  # endpoint: share of the requests
    "GET recommendations discover": 0.28,
    "GET recommendations buy_again": 0.10,
    "GET similar co_purchase": 0.12,
    "GET similar content": 0.08,
    "GET bought-together": 0.14,
    "POST recommendations (basket)": 0.20,
    "GET segment": 0.06,
    "POST segments/score": 0.02,
}
RECOMMENDATION_MARTS = (
    "product_similarity",
    "product_pairs",
    "customer_recommendations",
    "recommendation_metrics",
)
SEGMENTATION_MARTS = ("customer_segments", "segment_profiles", "segmentation_metrics")


# --- ids from the published data --------------------------------------------------------------


@dataclass
class Ids:
    customers: list[int]  # with lists (some without purchases: cold start)
    segmented: list[int]  # with a segment
    products: list[str]
    product_weights: list[float]
    features: list[dict]


def _number(value):
    """A numeric column's value as JSON sends it: Decimal as float, integers as they are."""
    return float(value) if isinstance(value, Decimal) else value


def published_ids() -> Ids:
    from psycopg import sql

    from include.db.connection import connect
    from include.ml.features import TRANSACTIONS

    names = TRANSACTIONS.model_features  # the request body of POST /segments/score
    with connect() as conn:
        customers = [
            r[0] for r in conn.execute("select distinct customer_id from marts.customer_recommendations")
        ]
        products = conn.execute(
            "select s.product_id, coalesce(max(p.product_invoices), 1)"
            "  from marts.product_similarity as s"
            "  left join marts.product_pairs as p on p.product_id = s.product_id"
            " where s.method = 'content' group by 1 order by 1"
        ).fetchall()
        segmented = [r[0] for r in conn.execute("select customer_id from marts.customer_segments")]
        features = conn.execute(
            sql.SQL("select {} from marts.customer_segments order by customer_id").format(
                sql.SQL(", ").join(map(sql.Identifier, names))
            )
        ).fetchall()
    if not customers or not products:
        raise SystemExit("nothing published: run the pipeline first (make demo)")
    return Ids(
        customers=customers,
        segmented=segmented,
        products=[p for p, _ in products],
        product_weights=[float(w) for _, w in products],
        features=[{n: _number(v) for n, v in zip(names, row, strict=True)} for row in features],
    )


def plan(ids: Ids, total: int, seed: int) -> list[tuple[str, str, str, dict | None]]:
    """`total` requests (endpoint, method, path, JSON body) drawn with the MIX shares."""
    rng = random.Random(seed)
    endpoints = list(MIX)
    kinds = rng.choices(endpoints, weights=[MIX[e] for e in endpoints], k=total)

    def customer() -> int:
        return rng.randrange(900_000, 999_999) if rng.random() < 0.05 else rng.choice(ids.customers)

    def products(k: int) -> list[str]:
        return rng.choices(ids.products, weights=ids.product_weights, k=k)

    def n() -> int:
        return 10 if rng.random() < 0.9 else rng.choice((5, 20, 50))

    requests = []
    for kind in kinds:
        if kind == "GET recommendations discover":
            requests.append(
                (kind, "GET", f"/customers/{customer()}/recommendations?list=discover&n={n()}", None)
            )
        elif kind == "GET recommendations buy_again":
            requests.append(
                (kind, "GET", f"/customers/{customer()}/recommendations?list=buy_again&n={n()}", None)
            )
        elif kind.startswith("GET similar"):
            method = kind.rsplit(" ", 1)[1]
            requests.append(
                (kind, "GET", f"/products/{products(1)[0]}/similar?method={method}&n={n()}", None)
            )
        elif kind == "GET bought-together":
            requests.append((kind, "GET", f"/products/{products(1)[0]}/bought-together?n={n()}", None))
        elif kind == "POST recommendations (basket)":
            body = {
                "product_ids": products(rng.randint(1, 6)),
                "exclude": products(rng.randint(0, 2)),
                "n": n(),
            }
            requests.append((kind, "POST", "/recommendations", body))
        elif kind == "GET segment":
            requests.append((kind, "GET", f"/customers/{rng.choice(ids.segmented)}/segment", None))
        else:
            requests.append((kind, "POST", "/segments/score", rng.choice(ids.features)))
    return requests


# --- a minimal keep-alive HTTP/1.1 client -----------------------------------------------------


class Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(raw)
                head = await self.reader.readuntil(b"\r\n\r\n")
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()  # the server closed an idle keep-alive connection: once more
                if attempt == 2:
                    raise
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def encode(host: str, prefix: str, token: str, method: str, path: str, body: dict | None) -> bytes:
    lines = [f"{method} {prefix}{path} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {token}"]
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    runs: Counter = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)  # ms from due to written (the generator's own delay)


async def drive(
    url: str, token: str, requests: list, rps: float, connections: int, max_queued: int
) -> tuple[Results, float]:
    parts = urlsplit(url)
    host, port, prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/")
    raws = [(kind, encode(f"{host}:{port}", prefix, token, m, p, b)) for kind, m, p, b in requests]
    queue: asyncio.Queue = asyncio.Queue()
    results = Results()

    async def worker() -> None:
        conn = Connection(host, port)
        while (job := await queue.get()) is not None:
            due, kind, raw = job
            results.lags.append((time.perf_counter() - due) * 1000)
            try:
                status, body = await conn.request(raw)
            except (OSError, asyncio.IncompleteReadError) as err:
                results.errors[kind][type(err).__name__] += 1
                await conn.close()
                continue
            results.latencies[kind].append((time.perf_counter() - due) * 1000)
            if status != 200:
                results.errors[kind][f"HTTP {status}"] += 1
                continue
            run_id = json.loads(body).get("run_id")
            if run_id is None:
                results.errors[kind]["no run_id"] += 1
            results.runs[run_id] += 1
        await conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    started = time.perf_counter() + 0.2  # perf_counter: uvloop's loop.time() counts whole ms
    for i, (kind, raw) in enumerate(raws):
        due = started + i / rps
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if queue.qsize() >= max_queued:
            results.errors[kind]["overload"] += 1
            continue
        queue.put_nowait((due, kind, raw))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return results, time.perf_counter() - started


# --- publication switches -----------------------------------------------------------------------


def previous_runs() -> dict[str, tuple[str, str]]:
    """{stage marts: (published run, previous kept run)} for the recommendation and segmentation
    marts; raises SystemExit when a stage has no second kept run."""
    from include.db.connection import connect

    stages = {}
    with connect() as conn:
        for marts in (RECOMMENDATION_MARTS, SEGMENTATION_MARTS):
            current = conn.execute(
                "select run_id from published.current_runs where mart = %s", (marts[0],)
            ).fetchone()
            other = conn.execute(
                "select run_id from published.run_history where mart = %s and run_id <> %s"
                " order by published_at desc limit 1",
                (marts[0], current[0] if current else ""),
            ).fetchone()
            if not current or not other:
                raise SystemExit(f"--switch-every needs two kept runs of {marts[0]}: run the pipeline twice")
            stages[marts] = (current[0], other[0])
    return stages


def point(stages: dict, which: int) -> None:
    """Move the pointers of every stage's marts to its run number `which` (0 = the published one),
    in one transaction, as include.publish.marts.activate does."""
    from include.db.connection import connect

    with connect() as conn:
        for marts, runs in stages.items():
            conn.execute(
                "update published.current_runs set run_id = %s, published_at = now() where mart = any(%s)",
                (runs[which], list(marts)),
            )


def switcher(stages: dict, every: float, stop: threading.Event, switches: list) -> None:
    which = 0
    while not stop.wait(every):
        which = 1 - which
        point(stages, which)
        switches.append(time.monotonic())
    point(stages, 0)


# --- main ------------------------------------------------------------------------------------


def obtain_token(api_url: str) -> tuple[str, str]:
    """(token, where it came from): the api-server's POST /auth/token, else minted locally."""
    import httpx

    try:
        answer = httpx.post(
            f"{api_url}/auth/token",
            json={"username": config.AIRFLOW_ADMIN_USER, "password": config.AIRFLOW_ADMIN_PASSWORD},
            timeout=10,
        )
        if answer.status_code in (200, 201):
            return answer.json()["access_token"], f"{api_url}/auth/token"
    except httpx.HTTPError:
        pass
    from include.serve.auth import mint_token

    return mint_token(), "minted with the local JWT secret (no api-server answered)"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def line(name: str, values: list[float], errors: int, seconds: float) -> str:
    return (
        f"{name:<32} n={len(values):>6} p50_ms={percentile(values, 50):6.2f} p95_ms={percentile(values, 95):6.2f}"
        f" p99_ms={percentile(values, 99):6.2f} max_ms={max(values, default=float('nan')):7.2f}"
        f" errors={errors} rps={len(values) / seconds:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=f"http://127.0.0.1:{config.SERVE_PORT}")
    parser.add_argument("--token", default=None)
    parser.add_argument("--api-url", default=f"http://127.0.0.1:{config.AIRFLOW_API_PORT}")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rps", type=float, default=500)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--max-queued", type=int, default=2_000)
    parser.add_argument("--warmup-seconds", type=float, default=3)
    parser.add_argument(
        "--switch-every", type=float, default=0, help="flip the published run every S seconds"
    )
    parser.add_argument("--seed", type=int, default=config.SEED)
    args = parser.parse_args(argv)

    runtime.configure_environment()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    token, source = (args.token, "--token") if args.token else obtain_token(args.api_url)
    ids = published_ids()
    print(
        f"url {args.url}  token from {source}  {args.rps:.0f} rps for {args.seconds:.0f} s"
        f"  ({len(ids.customers):,} customers, {len(ids.products):,} products)",
        flush=True,
    )
    if args.warmup_seconds:
        warm = plan(ids, int(args.rps * args.warmup_seconds), args.seed + 1)
        asyncio.run(drive(args.url, token, warm, args.rps, args.connections, args.max_queued))

    stop, switches, thread = threading.Event(), [], None
    if args.switch_every:
        stages = previous_runs()
        thread = threading.Thread(
            target=switcher, args=(stages, args.switch_every, stop, switches), daemon=True
        )
        thread.start()
    try:
        requests = plan(ids, int(args.rps * args.seconds), args.seed)
        gc.collect()
        gc.freeze()  # the planned requests out of the collector's walks: its pauses are not the server's
        results, seconds = asyncio.run(
            drive(args.url, token, requests, args.rps, args.connections, args.max_queued)
        )
    finally:
        if thread is not None:
            stop.set()
            thread.join()

    every: list[float] = []
    errors_total = 0
    groups = {"all GET": [], "POST recommendations (basket)": []}
    for kind in MIX:
        values = results.latencies.get(kind, [])
        errors = sum(results.errors[kind].values())
        errors_total += errors
        every += values
        if kind.startswith("GET"):
            groups["all GET"] += values
        detail = f"  {dict(results.errors[kind])}" if errors else ""
        print(line(kind, values, errors, seconds) + detail)
    print(line("all GET", groups["all GET"], 0, seconds).rsplit(" errors=", 1)[0])
    print(
        f"load generator: due requests waited p50_ms={percentile(results.lags, 50):.2f}"
        f" p99_ms={percentile(results.lags, 99):.2f} for a free connection (counted in the latencies)"
    )
    if switches:
        print(
            f"publication switches during the load: {len(switches)}; answers per run_id: {dict(results.runs)}"
        )
    print(
        f"p50_ms={percentile(every, 50):.2f} p95_ms={percentile(every, 95):.2f} p99_ms={percentile(every, 99):.2f}"
        f" errors={errors_total} rps={len(every) / seconds:.1f}"
    )
    return 1 if errors_total else 0


if __name__ == "__main__":
    sys.exit(main())
