"""How the recommendation model grows with the catalogue: seconds and peak memory per stage on a
synthetic shop of up to 100,000 products and 1,000,000 customers.

The synthetic shop: products belong to categories of ~200 (their descriptions share the
category's words); every customer buys ~10 products from 1-3 categories, popular products more
often (Zipf within the category). Each size runs in a fresh process, so its peak resident
memory (ru_maxrss) is its own.

    .venv/bin/python bench/recommendation_scale.py                 # 10k/100k, 30k/300k, 100k/1M
    .venv/bin/python bench/recommendation_scale.py --sizes 1000:10000 5000:50000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_SIZES = ("10000:100000", "30000:300000", "100000:1000000")
WORDS = (
    "red blue green pink white black gold silver heart star spot stripe vintage retro garden kitchen "
    "party christmas paper glass metal wooden ceramic candle holder mug bag box tin card frame lamp "
    "cushion clock sign bottle jar plate bowl cup tray basket ribbon doily bunting lantern"
).split()


def synthetic_shop(n_products: int, n_customers: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    category_size = 200
    n_categories = max(1, n_products // category_size)
    category = np.arange(n_products) % n_categories
    words = np.array(WORDS)
    cat_words = rng.integers(0, len(words), size=(n_categories, 3))
    own_words = rng.integers(0, len(words), size=(n_products, 2))
    descriptions = pd.Series(
        [
            " ".join([*words[cat_words[category[p]]], *words[own_words[p]], f"c{category[p]}"])
            for p in range(n_products)
        ]
    )
    # product p is in category p % n_categories at rank p // n_categories (rank 0 = most popular)
    sizes = (n_products - np.arange(n_categories) + n_categories - 1) // n_categories
    cdf = np.cumsum(1.0 / np.arange(1, sizes.max() + 1))
    cdf /= cdf[-1]
    per_customer = rng.poisson(10, n_customers) + 1
    rows_c = np.repeat(np.arange(n_customers), per_customer)
    customer_cats = rng.integers(0, n_categories, size=(n_customers, 3))
    n_cats = rng.integers(1, 4, n_customers)
    pick = (rng.random(len(rows_c)) * n_cats[rows_c]).astype(np.int64)
    cats = customer_cats[rows_c, pick]
    ranks = np.minimum(np.searchsorted(cdf, rng.random(len(rows_c))), sizes[cats] - 1)
    rows_p = cats + ranks * n_categories
    n = len(rows_c)
    start = pd.Timestamp("2011-01-01")
    interactions = pd.DataFrame(
        {
            "customer_id": rows_c.astype(np.int64),
            "product_id": np.char.add("P", rows_p.astype(str)),
            "invoice_date": start + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
            "invoices": np.ones(n, dtype=np.int64),
            "quantity": rng.integers(1, 12, n),
        }
    ).drop_duplicates(["customer_id", "product_id", "invoice_date"])
    product_ids = np.sort(np.char.add("P", np.arange(n_products).astype(str)))
    order = pd.Index(np.char.add("P", np.arange(n_products).astype(str))).get_indexer(product_ids)
    return interactions, product_ids, descriptions.iloc[order].reset_index(drop=True)


def run_one(n_products: int, n_customers: int) -> dict:
    import logging

    import pandas as pd

    from include import config
    from include.ml import recommend, similarity

    logging.basicConfig(level=logging.WARNING)
    timings = {}
    started = time.monotonic()
    interactions, product_ids, descriptions = synthetic_shop(n_products, n_customers, config.SEED)
    timings["generate_s"] = time.monotonic() - started

    t = time.monotonic()
    content = similarity.blocked_top_k_cosine(similarity.description_features(descriptions))
    timings["content_top_k_s"] = time.monotonic() - t

    t = time.monotonic()
    model = recommend.fit(interactions, product_ids, content, pd.Timestamp("2012-01-01"))
    timings["fit_s"] = time.monotonic() - t  # co-purchase top-k + customer neighbours + popularity

    t = time.monotonic()
    lists = recommend.discover(model, recommend.BlendWeights(), with_reason=False)
    timings["discover_lists_s"] = time.monotonic() - t
    t = time.monotonic()
    recommend.buy_again(model, recommend.BlendWeights(), with_reason=False)
    timings["buy_again_lists_s"] = time.monotonic() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "products": n_products,
        "customers": n_customers,
        "interactions": len(interactions),
        **{k: round(v, 1) for k, v in timings.items()},
        "total_s": round(time.monotonic() - started, 1),
        "list_rows": len(lists),
        "peak_rss_mb": round(peak_mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="products:customers")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        products, customers = (int(x) for x in args.one.split(":"))
        print(json.dumps(run_one(products, customers)))
        return
    results = []
    for size in args.sizes:
        out = (
            subprocess.run(
                [sys.executable, __file__, "--one", size], check=True, capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        results.append(json.loads(out))
        print(json.dumps(results[-1]), flush=True)
    keys = list(results[0])
    print("\n| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in results:
        print("| " + " | ".join(f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for k in keys) + " |")
    first = results[0]
    for r in results[1:]:
        grow = r["products"] / first["products"]
        print(
            f"x{grow:.0f} products: x{r['total_s'] / max(first['total_s'], 0.1):.1f} time,"
            f" x{r['peak_rss_mb'] / first['peak_rss_mb']:.1f} peak memory"
        )


if __name__ == "__main__":
    main()
