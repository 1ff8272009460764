"""Benchmark: the segmentation code path (preprocessing, K-means sweep k = 2..10 with metrics,
Ward on a sample, PCA, DBSCAN on a sample + nearest-core assignment, names, plots) on synthetic
customers at 4 k, 100 k and 1 M, with the fits limited to 1 thread and to every core.

    .venv/bin/python bench/segmentation_scale.py [--sizes 4000 100000 1000000] [--threads 1 2]

Every (size, threads) pair runs in a fresh process (ML_THREADS set for it); prints seconds per
stage and the peak resident memory of that process (psutil RSS sampled every 20 ms, imports
included), one row per pair. `--threads` defaults to 1 and the cores available to this process
(include/ml/threads.py). OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are removed
from the runs' environment, so that ML_THREADS alone limits the fits, as in a task. Other
settings come from include/config.py (MINIBATCH_ABOVE, SILHOUETTE_SAMPLE, DBSCAN_SAMPLE,
AGGLOMERATIVE_SAMPLE, SEED). No database is needed. Run it on an idle machine: the all-cores row
measures what the machine's other load leaves.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_SIZES = (4_000, 100_000, 1_000_000)


def synthetic_customers(n: int, seed: int):
    """Customers drawn from four behaviour groups (loyal, new, lapsed, big basket), with the
    columns of ml.customer_features the segmentation reads."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    group = rng.choice(4, size=n, p=[0.3, 0.25, 0.35, 0.1])
    recency = np.array([15, 20, 200, 60])[group] * rng.lognormal(0, 0.6, n)
    frequency = np.maximum(1, np.round(np.array([8, 1.2, 1.5, 2])[group] * rng.lognormal(0, 0.5, n)))
    basket = np.array([350, 250, 220, 1500])[group] * rng.lognormal(0, 0.5, n)
    gross = frequency * basket
    return_rate = np.where(rng.random(n) < 0.1, rng.beta(1, 8, n), 0.0)
    tenure = recency + np.array([300, 20, 100, 150])[group] * rng.lognormal(0, 0.4, n)
    gaps = np.where(frequency > 1, (tenure - recency) / np.maximum(frequency - 1, 1), np.nan)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1),
            "recency_days": np.round(recency) + 1,
            "frequency": frequency,
            "gross_revenue": gross,
            "monetary": gross * (1 - return_rate),
            "tenure_days": np.round(tenure) + 1,
            "avg_basket_value": basket,
            "distinct_products": np.maximum(1, np.round(frequency * 12 * rng.lognormal(0, 0.4, n))),
            "return_rate": return_rate,
            "avg_days_between_orders": gaps,
        }
    )


def run_one(n: int) -> dict:
    """One size in this process: returns seconds per stage and peak RSS in MiB."""
    import psutil

    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    from include import config
    from include.ml import plots
    from include.ml.features import TRANSACTIONS, FeaturePreprocessor
    from include.ml.segmentation import segment

    timings = {}
    started = time.monotonic()
    frame = synthetic_customers(n, config.SEED)
    x = FeaturePreprocessor(TRANSACTIONS).fit_transform(frame)
    timings["features"] = time.monotonic() - started
    seg = segment(
        x,
        frame,
        "transactions",
        TRANSACTIONS.value_column,
        TRANSACTIONS.naming_features,
        "kmeans",
        list(range(config.K_MIN, config.K_MAX + 1)),
        config.SEED,
        config.MINIBATCH_ABOVE,
        config.SILHOUETTE_SAMPLE,
        config.DBSCAN_SAMPLE,
        config.AGGLOMERATIVE_SAMPLE,
        threads=config.ML_THREADS,
    )
    timings.update(seg.seconds)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        plots.plot_all(seg, list(TRANSACTIONS.model_features), Path(tmp), "transactions", config.SEED)
    timings["plots"] = time.monotonic() - started
    done.set()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return {
        "customers": n,
        "threads": config.ML_THREADS,
        "kmeans": type(seg.kmeans_model).__name__,
        "k": seg.choice.k,
        "noise": seg.dbscan.noise_share,
        "seconds": timings,
        "total": sum(timings.values()),
        "peak_mib": peak[0] / 2**20,
    }


# Set by hand to cap every BLAS/OpenMP pool; removed for the runs, so that only ML_THREADS (applied
# with threadpoolctl around the fits, as in a task) limits them.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _without_thread_variables(environ) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in THREAD_VARIABLES}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="ML_THREADS values to run each size with (default: 1 and every available core)",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size
    args = parser.parse_args()
    if args.one:
        import logging

        logging.basicConfig(level=logging.WARNING)
        print(json.dumps(run_one(args.one)))
        return
    from include.ml.threads import available_cores

    thread_counts = args.threads or sorted({1, available_cores()})
    rows = []
    for n in args.sizes:
        for threads in thread_counts:
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(n)],
                check=True,
                capture_output=True,
                text=True,
                env={**_without_thread_variables(os.environ), "ML_THREADS": str(threads)},
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(
                f"... {n:,} customers with {threads} thread(s) done in {rows[-1]['total']:.1f} s",
                file=sys.stderr,
            )
    stages = ["features", "kmeans_sweep", "ward_sweep", "pca", "dbscan", "plots"]
    header = f"{'customers':>10} {'threads':>7} {'k-means':>16} {'k':>3} {'noise':>6} " + " ".join(
        f"{s:>12}" for s in stages
    )
    print(header + f" {'total s':>8} {'peak MiB':>9}")
    for r in rows:
        cells = " ".join(f"{r['seconds'][s]:>12.1f}" for s in stages)
        print(
            f"{r['customers']:>10,} {r['threads']:>7} {r['kmeans']:>16} {r['k']:>3} {r['noise']:>6.1%}"
            f" {cells} {r['total']:>8.1f} {r['peak_mib']:>9.0f}"
        )


if __name__ == "__main__":
    main()
