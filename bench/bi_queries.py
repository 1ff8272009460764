"""Benchmark: typical BI (Tableau) queries against the marts, each under 50 ms: the analytic
marts, and the star schema (line-level facts joined to their dimensions, as Tableau's
relationships in docs/tableau/marts.tds issue them).

    make demo SOURCE=../shared/datasets/ecommerce-data.zip   # once: the full data in `dwh`
    .venv/bin/python bench/bi_queries.py [--repeat 7]

Prints the median and worst milliseconds of each query (after one warm-up run), in a session
with the settings the bi_reader role logs in with (include/publish/access.py: jit = off), and the
load average (on a shared machine the figures scale with it).

    .venv/bin/python bench/bi_queries.py --hyper   # the same queries on the Tableau Hyper extract
                                                    # publish_marts writes (exported afresh)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import runtime  # noqa: E402

QUERIES = {
    "segment sizes": "select segment_id, segment_name, count(*) from marts.customer_segments group by 1, 2 order by 1",
    "customers of one segment": "select customer_id, segment_name, pca_x, pca_y from marts.customer_segments"
    " where segment_id = (select min(segment_id) from marts.customer_segments) order by customer_id limit 500",
    "one customer's lists": "select list_type, rank, product_id, score, reason from marts.customer_recommendations"
    " where customer_id = (select min(customer_id) from marts.customer_segments) order by list_type, rank",
    "similar products of one product": "select method, rank, similar_product_id, score from marts.product_similarity"
    " where product_id = (select min(product_id) from marts.product_similarity) order by method, rank",
    "monthly trend per segment": "select month_date, segment_name, net_revenue, orders, active_customers"
    " from marts.segment_monthly_trends order by month_date, segment_id",
    "weekday x hour of one segment": "select iso_weekday, hour_of_day, revenue from marts.segment_weekday_hour_sales"
    " where segment_id = (select min(segment_id) from marts.segment_weekday_hour_sales)",
    "segment profiles": "select * from marts.segment_profiles order by segment_id",
    "pairs with the highest lift": "select * from marts.product_pairs order by lift desc limit 50",
    "recommendation metrics": "select * from marts.recommendation_metrics order by list_type, ndcg_at_10 desc",
    "most recommended products": "select product_id, count(*) from marts.customer_recommendations"
    " where list_type = 'discover' group by 1 order by 2 desc limit 20",
    "run history": "select * from marts.pipeline_runs order by published_at desc limit 20",
    "data-quality history": "select validated_at, table_name, expectation_type, column_name, success,"
    " unexpected_count from marts.data_quality_runs order by validated_at desc, table_name, expectation_index",
    # the star schema
    "star: revenue by segment x month": "select d.year_month, c.segment_name, sum(f.amount) as revenue"
    " from marts.fct_order_lines f join marts.dim_dates d on d.date_key = f.date_key"
    " join marts.dim_customers c on c.customer_id = f.customer_id group by 1, 2 order by 1, 2",
    "star: top products of a segment": "select p.product_id, p.description, sum(f.amount) as revenue"
    " from marts.fct_order_lines f join marts.dim_customers c on c.customer_id = f.customer_id"
    " join marts.dim_products p on p.product_id = f.product_id"
    " where c.segment_id = (select min(segment_id) from marts.dim_customers)"
    " group by 1, 2 order by 3 desc limit 20",
    "star: returns rate by product group": "with sold as (select p.product_group, sum(f.amount) as revenue"
    " from marts.fct_order_lines f join marts.dim_products p on p.product_id = f.product_id group by 1),"
    " returned as (select p.product_group, sum(r.amount) as returned from marts.fct_returns r"
    " join marts.dim_products p on p.product_id = r.product_id group by 1)"
    " select sold.product_group, sold.revenue, coalesce(returned.returned, 0) / sold.revenue as return_rate"
    " from sold left join returned on returned.product_group = sold.product_group order by 3 desc",
    "star: one month by day": "select d.date_key, sum(f.amount) as revenue, count(distinct f.invoice_no) as orders"
    " from marts.fct_order_lines f join marts.dim_dates d on d.date_key = f.date_key"
    " where d.year_month = '2011-11' group by 1 order by 1",
    "star: one customer's lines": "select f.date_key, f.invoice_no, p.description, f.quantity, f.amount"
    " from marts.fct_order_lines f join marts.dim_products p on p.product_id = f.product_id"
    " where f.customer_id = (select min(customer_id) from marts.dim_customers) order by 1, 2",
}
TARGET_MS = 50.0


def _time_all(run: Callable[[str], int], repeat: int) -> float:
    """Time every query with `run` (returns the rows); prints a line each; returns the worst ms."""
    worst_all = 0.0
    print(f"{'query':<38} {'rows':>7} {'median ms':>10} {'worst ms':>9}")
    for name, query in QUERIES.items():
        rows = run(query)  # warm-up
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            run(query)
            times.append((time.perf_counter() - started) * 1000)
        worst_all = max(worst_all, max(times))
        print(f"{name:<38} {rows:>7} {statistics.median(times):>10.2f} {max(times):>9.2f}")
    return worst_all


def _on_hyper(conn, repeat: int) -> float:
    """The queries on a fresh Hyper extract of the marts (schema Extract, one table per mart)."""
    from tableauhyperapi import Connection, HyperProcess, Telemetry

    from include.publish.tableau import export_hyper

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "marts.hyper"
        export_hyper(conn, out)
        with (
            HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": tmp}) as hyper,
            Connection(hyper.endpoint, str(out)) as hconn,
        ):
            return _time_all(
                lambda q: len(hconn.execute_list_query(q.replace("marts.", '"Extract".'))), repeat
            )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database", default=None, help="warehouse database (default: dwh)")
    parser.add_argument("--hyper", action="store_true", help="query a Hyper extract of the marts instead")
    args = parser.parse_args()
    runtime.configure_environment(args.database)
    from include.db.connection import connect

    with connect(autocommit=True) as conn:
        conn.execute("set jit = off")  # as bi_reader (alter role ... set jit = off)
        customers = conn.execute("select count(*) from marts.customer_segments").fetchone()[0]
        lines = conn.execute("select count(*) from marts.fct_order_lines").fetchone()[0]
        print(f"marts.customer_segments: {customers:,} customers; marts.fct_order_lines: {lines:,} lines")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
        if args.hyper:
            worst_all = _on_hyper(conn, args.repeat)
        else:
            worst_all = _time_all(lambda q: len(conn.execute(q).fetchall()), args.repeat)
    verdict = "met" if worst_all < TARGET_MS else "MISSED"
    print(f"\nslowest run of any query: {worst_all:.2f} ms   target < {TARGET_MS:.0f} ms: {verdict}")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
