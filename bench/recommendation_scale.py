"""How the recommendation model grows with the catalogue: seconds and peak memory per stage on a
synthetic shop of up to 100,000 products and 1,000,000 customers.

The synthetic shop: products belong to categories of ~200; every customer buys ~10 products
from 1-3 categories, popular products more often (Zipf within the category). Descriptions are
drawn from a vocabulary of pseudo-words that grows with the catalogue (Heaps' law, Zipf-like word
frequencies) and come in product lines of variants, calibrated on the real Online Retail
catalogue, so the content similarity meets what it meets in a real shop: a few very common words
and character n-grams, many rare ones, near-variants. (The first version used 45 words for any
size: every product shared words with almost every other one.) Each size runs in a fresh
process, so its peak resident memory (ru_maxrss) is its own; cpu_s next to the wall-clock
total shows how much of it was waiting on a shared machine.

    .venv/bin/python bench/recommendation_scale.py                 # 10k/100k, 30k/300k, 100k/1M
    .venv/bin/python bench/recommendation_scale.py --sizes 1000:10000 5000:50000
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

DEFAULT_SIZES = ("10000:100000", "30000:300000", "100000:1000000")

# The real catalogue calibrates the synthetic one. Online Retail: 3,958 stock codes, 2,170
# distinct words, 4.5 words per description, the commonest word ("set") in 10 % of the
# products, 69 % of the products with a variant sharing >= half of their words, 43 % of all
# product pairs sharing some n-gram. Synthetic at the same size: 1,750 words, 4.4 words, 8 %,
# 78 %, 59 %. At 100,000 products: 15,000 words, the commonest in 5 % of the products.
REAL_PRODUCTS, REAL_WORDS = 3_958, 2_200
HEAPS_BETA = 0.6  # vocabulary ~ products ** 0.6 (Heaps' law): 10k -> ~3.9k words, 100k -> ~15k
ZIPF_OFFSET = 10.0  # Zipf-Mandelbrot p(rank) ~ 1 / (rank + 10): the head as flat as the real one
CATEGORY_SIZE = 200  # products per category
ONSETS = [*"b c d f g h j k l m n p r s t v w y z ch sh st tr bl gr pl cr qu x".split(), "", "", "", ""]
VOWELS = "a e i o u a e i o u ai ea oo ou y".split()
CODAS = [*[""] * 8, *"n r s t l ck ng rd st m p x".split()]


def pseudo_words(n: int, rng) -> list[str]:
    """n distinct pronounceable words of 1-3 syllables ('blairoo', 'mest', 'tringa'): they share
    syllables, so their character n-grams overlap as real words do."""
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


def synthetic_descriptions(n_products: int, category, rng):
    """(descriptions, line of every product): descriptions from a vocabulary that grows with the catalogue, words drawn Zipf-like.

    As in a real shop, products come in lines of variants ('RED HANGING HEART T-LIGHT HOLDER',
    'WHITE HANGING HEART ...'): a line of ~2.5 products of one category shares a base name of
    2-3 words (half of the lines also one of the category's two theme words); each product adds
    1-2 variant words. ~4.5 words per description in all, as in the real catalogue.
    """
    import numpy as np

    vocabulary = np.array(pseudo_words(round(REAL_WORDS * (n_products / REAL_PRODUCTS) ** HEAPS_BETA), rng))
    p = 1.0 / (np.arange(1, len(vocabulary) + 1) + ZIPF_OFFSET)
    cdf = np.cumsum(p / p.sum())
    n_categories = int(category.max()) + 1
    themes = np.searchsorted(cdf, rng.random((n_categories, 2)))  # the category's own words
    # lines: runs of products with the same category (products are sorted by category first)
    by_category = np.lexsort((np.arange(n_products), category))
    starts = np.flatnonzero(np.diff(category[by_category], prepend=-1))  # first product of a category
    new_line = rng.random(n_products) < 0.4  # line sizes ~ geometric, mean 2.5
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
    return descriptions, line


def synthetic_shop(n_products: int, n_customers: int, seed: int):
    """(interactions, sorted product ids, their descriptions). Products belong to categories of
    ~200; every customer buys ~10 products from 1-3 categories, popular products more often
    (Zipf within the category)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_categories = max(1, n_products // CATEGORY_SIZE)
    category = np.arange(n_products) % n_categories
    names = np.array([f"P{p}" for p in range(n_products)], dtype=object)
    descriptions = pd.Series(synthetic_descriptions(n_products, category, rng)[0], dtype=object)
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
    day = rng.integers(0, 365, len(rows_c))
    quantity = rng.integers(1, 12, len(rows_c))
    # one row per customer, product and day (dropped on integers: cheaper than on strings)
    key = (rows_c.astype(np.int64) * n_products + rows_p) * 365 + day
    _, first = np.unique(key, return_index=True)
    first.sort()
    rows_c, rows_p, day, quantity = rows_c[first], rows_p[first], day[first], quantity[first]
    interactions = pd.DataFrame(
        {
            "customer_id": rows_c.astype(np.int64),
            "product_id": names[rows_p],
            "invoice_date": pd.Timestamp("2011-01-01") + pd.to_timedelta(day, unit="D"),
            "invoices": np.ones(len(rows_c), dtype=np.int64),
            "quantity": quantity,
        }
    )
    order = np.argsort(names.astype(str), kind="stable")  # the catalogue sorted by product_id
    return interactions, names[order], descriptions.iloc[order].reset_index(drop=True)


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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "products": n_products,
        "customers": n_customers,
        "interactions": len(interactions),
        **{k: round(v, 1) for k, v in timings.items()},
        "total_s": round(time.monotonic() - started, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),  # wall time counts waits on a shared machine
        "list_rows": len(lists),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
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
    for size in args.sizes:  # a fresh process per size: its ru_maxrss is its own peak
        run = subprocess.run(
            [sys.executable, __file__, "--one", size], check=True, stdout=subprocess.PIPE, text=True
        )
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    keys = [k for k in results[0] if k != "list_rows"]
    print("\n| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in results:
        print("| " + " | ".join(f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for k in keys) + " |")
    if len(results) > 1:  # near-linear: every ratio close to the products ratio
        print("\ngrowth from one size to the next")
        print("| sizes | " + " | ".join(keys) + " |")
        print("|" + "---|" * (len(keys) + 1))
        for a, b in itertools.pairwise(results):
            ratios = [f"x{b[k] / a[k]:.1f}" if a[k] else "-" for k in keys]
            print(f"| {a['products']:,} -> {b['products']:,} | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
