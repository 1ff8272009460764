"""The recommendation protocol offline: every method tuned on the validation window and scored
once on the test window, printed as the table marts.recommendation_metrics gets, with seconds.

Reads the warehouse the pipeline filled (ml.customer_product_interactions, staging.products and
the published segmentation run); nothing is written except the studies under --folder.

    .venv/bin/python bench/recommendation_quality.py                      # the warehouse `dwh`
    EMBEDDED_PG_PORT=55502 .venv/bin/python bench/recommendation_quality.py --folder /tmp/studies
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=None, help="save the Optuna studies here")
    parser.add_argument("--test-days", type=int, default=None)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    logging.getLogger("include.ml.tuning").setLevel(logging.INFO)
    logging.getLogger("include.ml.protocol").setLevel(logging.INFO)

    import pandas as pd
    from threadpoolctl import threadpool_limits

    from include import config
    from include.db.connection import connect
    from include.ml import evaluation, protocol
    from include.tasks.recommend_products import load_interactions, load_products, segments_as_of_factory
    from tools import runtime

    runtime.configure_environment()
    started = time.monotonic()
    with connect() as conn:
        interactions = load_interactions(conn)
        products = load_products(conn)
    loaded = time.monotonic() - started
    cpu0 = time.process_time()
    with threadpool_limits(limits=config.ML_THREADS):
        outcome = protocol.run(
            interactions,
            products,
            segments_as_of_factory(),
            test_days=args.test_days or config.TEST_WINDOW_DAYS,
            folder=args.folder,
            threads=config.ML_THREADS,
        )
    seconds = time.monotonic() - started - loaded
    m = outcome.metrics
    shown = ("_date", "evaluation_")  # the windows and statuses are in the log
    cols = [c for c in evaluation.MART_COLUMNS if not any(part in c for part in shown)]
    m = m.sort_values(["list_type", "ndcg_at_10"], ascending=[False, False])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for _, r in m.iterrows():
        cells = [f"{r[c]:.4f}" if isinstance(r[c], float) and not pd.isna(r[c]) else str(r[c]) for c in cols]
        print("| " + " | ".join(cells) + " |")
    for lt in ("discover", "buy_again"):
        rows = m[m["list_type"] == lt].set_index("method")["ndcg_at_10"].dropna()
        if "hybrid" in rows and len(rows) > 1:
            best = rows.drop("hybrid").idxmax()
            print(
                f"{lt}: hybrid {rows['hybrid']:.4f} vs best other {best} {rows[best]:.4f}: x{rows['hybrid'] / rows[best]:.3f}"
            )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"load {loaded:.1f} s, protocol {seconds:.1f} s wall, {time.process_time() - cpu0:.1f} s cpu,"
        f" peak rss {usage.ru_maxrss / 1024:.0f} MiB; status {outcome.status}"
    )


if __name__ == "__main__":
    main()
