"""The whole recommend_products computation on a synthetic long-tail shop: seconds and peak
memory per stage, tuning included, up to 100,000 products and 1,000,000 customers.

The shop looks like a real one where it matters for the cost:
- product popularity is Zipf-Mandelbrot over the whole catalogue (p(rank) ~ 1 / (rank + 5)),
  so a few products are bought by 10-20 % of the customers and most by a handful;
- each customer's purchases are half from 1-3 favourite categories of ~200 products (Zipf
  within the category), half from the whole shop;
- basket sizes are heavy-tailed (log-normal: median 9 purchases, a few customers with
  thousands), grouped into invoices on days spread over a year;
- descriptions come from a vocabulary that grows with the catalogue (Heaps' law, Zipf word
  frequencies, product lines of variants), calibrated on the real Online Retail catalogue.

Stages (the DAG's work without the database): similarity (content + co-purchase top-k, product
pairs), evaluation (the protocol: every method tuned on the validation window of a
EVALUATION_MAX_CUSTOMERS customer sample, scored once on the test window; EASE^R is skipped
above EASE_MAX_PRODUCTS), recommendations (the hybrid's lists for every customer). Each stage
runs in a fresh process, as each DAG task does (the shop and the stages' outputs pass through
parquet and pickle files of a temporary folder): its peak resident memory (ru_maxrss, imports and
inputs included) is its own, and `peak_rss_mb` is the largest. Thread limits: BLAS, OpenMP and the
kernels at ML_THREADS.

    OMP_NUM_THREADS=1 .venv/bin/python bench/recommendation_scale.py                  # 100k / 1M
    OMP_NUM_THREADS=1 .venv/bin/python bench/recommendation_scale.py --sizes 10000:100000 100000:1000000
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_SIZES = ("100000:1000000",)

# The real catalogue calibrates the synthetic one. Online Retail: 3,958 stock codes, 2,170
# distinct words, 4.5 words per description, the commonest word ("set") in 10 % of the
# products, 69 % of the products with a variant sharing >= half of their words.
REAL_PRODUCTS, REAL_WORDS = 3_958, 2_200
HEAPS_BETA = 0.6  # vocabulary ~ products ** 0.6 (Heaps' law): 10k -> ~3.9k words, 100k -> ~15k
ZIPF_OFFSET = 10.0  # word frequencies: p(rank) ~ 1 / (rank + 10)
POPULARITY_OFFSET = 5.0  # product popularity: p(rank) ~ 1 / (rank + 5): the top products reach 10-20 %
CATEGORY_SIZE = 200  # products per category
ONSETS = [*"b c d f g h j k l m n p r s t v w y z ch sh st tr bl gr pl cr qu x".split(), "", "", "", ""]
VOWELS = "a e i o u a e i o u ai ea oo ou y".split()
CODAS = [*[""] * 8, *"n r s t l ck ng rd st m p x".split()]


def pseudo_words(n: int, rng) -> list[str]:
    """n distinct pronounceable words of 1-3 syllables ('blairoo', 'mest', 'tringa')."""
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < n:
        m = 2 * (n - len(words)) + 100
        syllables = rng.choice([1, 2, 3], size=m, p=[0.45, 0.45, 0.1])
        parts = [rng.integers(0, len(x), size=(m, 3)) for x in (ONSETS, VOWELS, CODAS)]
        for i in range(m):
            word = "".join(
                ONSETS[parts[0][i, j]] + VOWELS[parts[1][i, j]] + CODAS[parts[2][i, j]]
                for j in range(syllables[i])
            )
            if len(word) >= 3 and word not in seen:
                seen.add(word)
                words.append(word)
                if len(words) == n:
                    break
    return words


def synthetic_descriptions(n_products: int, category, rng) -> list[str]:
    """Product lines of ~2.5 variants per category sharing a base name of 2-3 words (half also a
    theme word of the category); each product adds 1-2 variant words: ~4.5 words in all."""
    import numpy as np

    vocabulary = np.array(pseudo_words(round(REAL_WORDS * (n_products / REAL_PRODUCTS) ** HEAPS_BETA), rng))
    p = 1.0 / (np.arange(1, len(vocabulary) + 1) + ZIPF_OFFSET)
    cdf = np.cumsum(p / p.sum())
    n_categories = int(category.max()) + 1
    themes = np.searchsorted(cdf, rng.random((n_categories, 2)))
    by_category = np.lexsort((np.arange(n_products), category))
    starts = np.flatnonzero(np.diff(category[by_category], prepend=-1))
    new_line = rng.random(n_products) < 0.4
    new_line[starts] = True
    line = np.empty(n_products, dtype=np.int64)
    line[by_category] = np.cumsum(new_line) - 1
    n_lines = int(line.max()) + 1
    line_category = np.empty(n_lines, dtype=np.int64)
    line_category[line] = category
    base = np.searchsorted(cdf, rng.random((n_lines, 3)))
    base_size = rng.integers(2, 4, n_lines) + (rng.random(n_lines) < 0.3)
    theme = np.where(rng.random(n_lines) < 0.5, themes[line_category, rng.integers(0, 2, n_lines)], -1)
    variant = np.searchsorted(cdf, rng.random((n_products, 2)))
    variant_size = rng.choice([1, 2], n_products, p=[0.7, 0.3])
    descriptions = []
    for i in range(n_products):
        j = line[i]
        ranks = [
            *variant[i, : variant_size[i]],
            *([theme[j]] if theme[j] >= 0 else []),
            *base[j, : base_size[j]],
        ]
        descriptions.append(" ".join(dict.fromkeys(vocabulary[ranks]).keys()).upper())
    return descriptions


def synthetic_shop(n_products: int, n_customers: int, seed: int):
    """(interactions at customer x product x day grain, products (product_id, description),
    invoice lines (invoice_no, product_id)), vectorised."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_categories = max(1, n_products // CATEGORY_SIZE)
    # product p has popularity rank p; categories interleave ranks so each holds head and tail
    category = rng.permutation(np.arange(n_products) % n_categories)
    weights = 1.0 / (np.arange(n_products) + 1.0 + POPULARITY_OFFSET)
    global_cdf = np.cumsum(weights / weights.sum())
    members = np.argsort(category, kind="stable")  # products of category c: members[bounds[c]:bounds[c+1]]
    bounds = np.searchsorted(category[members], np.arange(n_categories + 1))
    within = np.cumsum(weights[members])  # Zipf within the category via the same weights
    offset = np.concatenate([[0.0], within])[bounds[:-1]]
    totals = within[bounds[1:] - 1] - offset

    draws = np.minimum(np.exp(rng.normal(2.2, 1.1, n_customers)).astype(np.int64) + 1, 5_000)
    customer = np.repeat(np.arange(n_customers, dtype=np.int32), draws)
    total = len(customer)
    favourites = rng.integers(0, n_categories, size=(n_customers, 3), dtype=np.int32)
    n_fav = rng.integers(1, 4, n_customers)
    cat = favourites[customer, (rng.random(total, dtype=np.float32) * n_fav[customer]).astype(np.int32)]
    del favourites
    target = offset[cat] + rng.random(total) * totals[cat]
    pick = np.clip(np.searchsorted(within, target), bounds[cat], bounds[cat + 1] - 1).astype(np.int32)
    del target, cat
    product = np.searchsorted(global_cdf, rng.random(total)).astype(np.int32)
    from_category = rng.random(total, dtype=np.float32) < 0.5
    product = np.where(from_category, members[pick].astype(np.int32), product)
    np.minimum(product, n_products - 1, out=product)
    del pick, from_category
    # invoices: about one per 4 purchases, each on a day of the customer's year
    n_invoices = np.maximum(1, draws // 4)
    invoice_base = np.concatenate([[0], np.cumsum(n_invoices)[:-1]])
    invoice = invoice_base[customer] + (rng.random(total, dtype=np.float32) * n_invoices[customer]).astype(
        np.int64
    )
    invoice_day = rng.integers(0, 365, int(n_invoices.sum()), dtype=np.int16)
    day = invoice_day[invoice]
    del invoice_day
    quantity = rng.integers(1, 13, total, dtype=np.int16)

    names = np.array([f"P{p:06d}" for p in range(n_products)], dtype=object)
    products = pd.DataFrame(
        {
            "product_id": names,
            "description": synthetic_descriptions(n_products, category, rng),
            "is_sold": True,
        }
    )
    lines = pd.DataFrame(
        {"invoice_no": invoice, "product_id": pd.Categorical.from_codes(product, categories=names)}
    )
    del invoice
    key = (customer.astype(np.int64) * n_products + product) * 365 + day
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.flatnonzero(np.diff(key, prepend=-1))
    del key
    counts = np.diff(np.append(first, total))
    qty = np.add.reduceat(quantity[order], first)
    pick = order[first]
    del order
    interactions = pd.DataFrame(
        {
            "customer_id": customer[pick].astype(np.int64),
            "product_id": pd.Categorical.from_codes(product[pick], categories=names),
            "invoice_date": pd.Timestamp("2011-01-01") + pd.to_timedelta(day[pick], unit="D"),
            "invoices": counts,
            "quantity": qty,
        }
    )
    return interactions, products, lines


STAGES = ("generate", "similarity", "evaluation", "recommendations")


def run_stage(stage: str, n_products: int, n_customers: int, folder: Path) -> dict:
    """One stage in this fresh process, as the DAG runs each task in a process of its own: its
    inputs read from `folder` (parquet, pickle), its outputs written there. Returns its seconds
    and CPU seconds of work (reading the inputs left out, as the DAG's COPY out of the database
    is timed elsewhere) and its peak resident memory (ru_maxrss: imports and inputs included)."""
    import logging
    import pickle

    import pandas as pd
    from threadpoolctl import threadpool_limits

    from include import config
    from include.ml import pairs, protocol, ranking, recommender, signals, similarity

    logging.basicConfig(level=logging.WARNING)
    out: dict = {}
    if stage == "generate":
        t, c = time.monotonic(), time.process_time()
        interactions, products, lines = synthetic_shop(n_products, n_customers, config.SEED)
        seconds, cpu = time.monotonic() - t, time.process_time() - c
        buyers = interactions.groupby("product_id", observed=True)["customer_id"].nunique()
        sizes = interactions.groupby("customer_id").size()
        out["shape"] = {
            "interactions": len(interactions),
            "top_product_share": round(float(buyers.max() / n_customers), 3),
            "products_above_10pct": int((buyers > 0.1 * n_customers).sum()),
            "max_basket": int(sizes.max()),
        }
        for name, frame in (("interactions", interactions), ("products", products), ("lines", lines)):
            frame.to_parquet(folder / f"{name}.parquet")
    else:
        interactions = pd.read_parquet(folder / "interactions.parquet")
        products = pd.read_parquet(folder / "products.parquet")
        t, c = time.monotonic(), time.process_time()
        with threadpool_limits(limits=config.ML_THREADS):
            if stage == "similarity":
                content = similarity.content_top_k(products["description"], config.TOP_K_SIMILAR)
                as_of = interactions["invoice_date"].max() + pd.Timedelta(days=1)
                history = signals.build_history(interactions, products["product_id"].to_numpy(), as_of)
                co_purchase = signals.co_purchase_top_k(history, config.TOP_K_SIMILAR)
                del history
                lines = pd.read_parquet(folder / "lines.parquet")
                out["pairs"] = len(
                    pairs.product_pairs(lines["invoice_no"], lines["product_id"], config.MIN_PAIR_SUPPORT)
                )
                with (folder / "published.pkl").open("wb") as fh:
                    pickle.dump({"content": content, "co_purchase": co_purchase}, fh)
            elif stage == "evaluation":
                outcome = protocol.run(interactions, products, lambda as_of: None, threads=config.ML_THREADS)
                metrics = outcome.metrics.set_index(["list_type", "method"])["ndcg_at_10"].round(4)
                out["hybrid_discover_ndcg"] = metrics.get(("discover", "hybrid"))
                out["best_other_discover_ndcg"] = metrics.drop(("discover", "hybrid")).loc["discover"].max()
                with (folder / "specs.pkl").open("wb") as fh:
                    pickle.dump(outcome.specs, fh)
            else:
                with (folder / "published.pkl").open("rb") as fh:
                    published = pickle.load(fh)
                with (folder / "specs.pkl").open("rb") as fh:
                    specs = pickle.load(fh)
                as_of = interactions["invoice_date"].max() + pd.Timedelta(days=1)
                fit = protocol.make_fit(
                    interactions, products, as_of, None, catalogue="all", threads=config.ML_THREADS
                )
                # build_recommendations reads the neighbours build_similarity published for the run
                assert (fit.history.product_ids == products["product_id"].to_numpy()).all()
                for method, top in published.items():
                    fit.cache[method] = ranking.canonical(top.to_sparse(fit.history.n_products))
                recommender.prepare(fit, specs.values())
                rows = 0
                for lt in ("discover", "buy_again"):  # block by block, as build_recommendations writes them
                    for block in recommender.list_blocks(fit, specs[lt], config.RECOMMENDATIONS_PER_LIST):
                        rows += len(block)
                out["list_rows"] = rows
        seconds, cpu = time.monotonic() - t, time.process_time() - c
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  {stage}: {seconds:.1f} s (cpu {cpu:.1f} s), peak rss {peak:.0f} MiB", file=sys.stderr, flush=True
    )
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak, **out}


def run_one(n_products: int, n_customers: int) -> dict:
    """Every stage of one size, each in a fresh process (`--stage`), in the DAG's order."""
    import tempfile

    results = {}
    with tempfile.TemporaryDirectory(prefix="recommendation_scale_") as folder:
        for stage in STAGES:
            run = subprocess.run(
                [sys.executable, __file__, "--stage", stage, f"{n_products}:{n_customers}", folder],
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            )
            results[stage] = json.loads(run.stdout.strip().splitlines()[-1])
    work = [s for s in STAGES if s != "generate"]
    evaluation = results["evaluation"]
    print(f"  shop: {results['generate']['shape']}", file=sys.stderr, flush=True)
    return {
        "products": n_products,
        "customers": n_customers,
        **results["generate"]["shape"],
        **{f"{s}_s": round(results[s]["seconds"], 1) for s in work},
        "total_s": round(sum(results[s]["seconds"] for s in work), 1),
        "cpu_s": round(sum(results[s]["cpu"] for s in work), 1),
        "peak_rss_mb": round(max(results[s]["peak_mb"] for s in work)),
        **{f"{s}_rss_mb": round(results[s]["peak_mb"]) for s in work},
        "pairs": results["similarity"]["pairs"],
        "list_rows": results["recommendations"]["list_rows"],
        "hybrid_discover_ndcg": evaluation["hybrid_discover_ndcg"],
        "best_other_discover_ndcg": evaluation["best_other_discover_ndcg"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="products:customers")
    parser.add_argument("--stage", nargs=3, help=argparse.SUPPRESS)  # stage products:customers folder
    args = parser.parse_args()
    if args.stage:
        stage, size, folder = args.stage
        products, customers = (int(x) for x in size.split(":"))
        print(json.dumps(run_stage(stage, products, customers, Path(folder)), default=float))
        return
    results = []
    for size in args.sizes:
        products, customers = (int(x) for x in size.split(":"))
        results.append(run_one(products, customers))
        print(json.dumps(results[-1]), flush=True)
    keys = [k for k in results[0] if k not in ("pairs", "list_rows")]
    print("\n| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in results:
        print("| " + " | ".join(f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for k in keys) + " |")
    if len(results) > 1:
        print("\ngrowth from one size to the next")
        for a, b in itertools.pairwise(results):
            ratios = [
                f"{k} x{b[k] / a[k]:.1f}" for k in ("interactions", "total_s", "cpu_s", "peak_rss_mb") if a[k]
            ]
            print(f"{a['products']:,} -> {b['products']:,}: " + ", ".join(ratios))


if __name__ == "__main__":
    main()
