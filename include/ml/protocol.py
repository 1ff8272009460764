"""The evaluation protocol of recommend_products, every run.

1. Windows: test = the last `test_window_days` days, validation = the VALIDATION_WINDOW_DAYS
   before it. A shorter history is not evaluated (the lists are still built, the metrics rows
   say why).
2. Validation fit: everything the lists use is fitted on the data before the validation window:
   the catalogue (products sold before it) and its TF-IDF vocabulary, neighbours, factors,
   popularity windows, and the customer segments as of that date (`segments_as_of`).
3. Every method tunes its own parameters on the validation window (include/ml/tuning.py);
   the hybrid's components take their baselines' parameters, its weights are tuned last.
4. Test fit: the same, on all data before the test window; each method is scored once on the
   test window with its tuned parameters. Paired bootstrap of every method's NDCG@10
   difference to the hybrid over the test customers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from include import config
from include.ml import baselines, evaluation, recommender, side_process, signals, tuning
from include.ml.evaluation import HYBRID, LIST_TYPES, Plan, Relevant
from include.ml.recommender import HybridSpec

log = logging.getLogger(__name__)

SegmentsAsOf = Callable[[pd.Timestamp], pd.DataFrame | None]
DISCOVER_METHODS = tuple(
    "ease als rp3beta user_knn item_knn recent_popularity segment_popularity global_popularity"
    " content_only co_purchase_only".split()
)
BUY_AGAIN_METHODS = ("own_most_bought", "ease")


@dataclass
class Outcome:
    metrics: pd.DataFrame  # one row per method and list type
    specs: dict[str, HybridSpec]
    status: str  # evaluated / not_evaluated
    note: str | None = None


def make_fit(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    as_of: pd.Timestamp,
    segments: pd.DataFrame | None,
    catalogue: str | np.ndarray = "sold",
    threads: int = 1,
    top_k: int = config.TOP_K_SIMILAR,
    tokens=None,
) -> signals.Fit:
    """A Fit of the purchases before `as_of`. catalogue='sold': the products sold before it
    (evaluation: nothing later is known); 'all': every product of `products` (production); or
    the sorted product ids themselves.
    `tokens`: the description tokens of `products` (tokenised once for every fit)."""
    strict = isinstance(catalogue, str) and catalogue == "all"
    if isinstance(catalogue, str) and catalogue == "sold":
        dates = pd.to_datetime(interactions["invoice_date"])
        ids = np.sort(pd.unique(interactions.loc[dates < as_of, "product_id"]).astype(str))
    elif strict:
        ids = np.sort(products["product_id"].to_numpy().astype(str))
    else:
        ids = np.asarray(catalogue)
    history = signals.build_history(interactions, ids, as_of, strict=strict)
    descriptions = (
        products.set_index("product_id")["description"].reindex(ids).fillna("").reset_index(drop=True)
    )
    token_rows = pd.Index(products["product_id"]).get_indexer(ids) if tokens is not None else None
    return signals.Fit(
        history,
        descriptions,
        segments,
        threads=threads,
        content_neighbours=top_k,
        tokens=tokens,
        token_rows=token_rows,
    )


def _methods(list_type: str, n_products: int) -> tuple[list[str], dict[str, str]]:
    """(methods to run, skipped method -> reason) of a list type."""
    names = DISCOVER_METHODS if list_type == "discover" else BUY_AGAIN_METHODS
    skipped = {}
    if n_products > config.EASE_MAX_PRODUCTS:
        skipped["ease"] = (
            f"skipped: EASE^R inverts a dense {n_products:,} x {n_products:,} matrix; the catalogue is above "
            f"EASE_MAX_PRODUCTS = {config.EASE_MAX_PRODUCTS:,}"
        )
    return [m for m in names if m not in skipped], skipped


def _relevant(fit: signals.Fit, interactions: pd.DataFrame, split: evaluation.Split) -> dict[str, Relevant]:
    return {
        lt: evaluation.relevant_for(
            fit.history, interactions, split, lt, config.EVALUATION_MAX_SCORED, seed=config.SEED
        )
        for lt in LIST_TYPES
    }


def _customer_sample(interactions: pd.DataFrame) -> pd.DataFrame:
    """The purchases of a seeded sample of EVALUATION_MAX_CUSTOMERS customers (all of them in a
    smaller shop): the evaluation fits and their tuning cost what a shop of that size costs."""
    customers = np.sort(interactions["customer_id"].unique())
    if len(customers) <= config.EVALUATION_MAX_CUSTOMERS:
        return interactions
    keep = np.random.default_rng(config.SEED).choice(
        customers, config.EVALUATION_MAX_CUSTOMERS, replace=False
    )
    log.info(
        "evaluation on a seeded sample of %d of %d customers (EVALUATION_MAX_CUSTOMERS)",
        len(keep),
        len(customers),
    )
    return interactions[interactions["customer_id"].isin(keep)]


def _union_rows(relevant: dict[str, Relevant]) -> np.ndarray:
    """Every customer row scored on a window (either list type): the dense models score them once."""
    return np.unique(np.concatenate([r.rows for r in relevant.values()]))


def _too_few(relevant: dict[str, Relevant], window: str) -> str | None:
    for lt, rel in relevant.items():
        if rel.n_customers < config.MIN_EVALUATION_CUSTOMERS:
            return (
                f"{window} window: {rel.n_customers} customer(s) to evaluate {lt} lists on, fewer than"
                f" MIN_EVALUATION_CUSTOMERS = {config.MIN_EVALUATION_CUSTOMERS}"
            )
    return None


def not_evaluated(reason: str, dates: pd.Series) -> Outcome:
    """Metrics rows of a run that could not be evaluated (every method, metrics empty)."""
    log.warning("recommendations are not evaluated: %s; the lists use untuned defaults", reason)
    days = pd.to_datetime(dates).dt.normalize()
    dates = {
        "train_start_date": days.min().date(),
        "train_end_date": days.max().date(),
        "test_start_date": None,
        "test_end_date": None,
    }
    rows = [
        _unscored_row(method, lt, dates, "not_evaluated", reason)
        for lt in LIST_TYPES
        for method in (*_list_methods(lt), HYBRID)
    ]
    specs = {lt: recommender.default_spec(lt) for lt in LIST_TYPES}
    return Outcome(pd.DataFrame(rows), specs, "not_evaluated", reason)


def _unscored_row(method: str, list_type: str, dates: dict, status: str, note: str) -> dict:
    """A metrics row without scores: the run not evaluated, or the method skipped."""
    return {
        "method": method,
        "list_type": list_type,
        **dict.fromkeys(evaluation.METRIC_COLUMNS),
        "users_evaluated": 0,
        **dates,
        "ndcg_diff_vs_hybrid_low": None,
        "ndcg_diff_vs_hybrid_high": None,
        "evaluation_status": status,
        "evaluation_note": note,
    }


def _test_lists(method: str, fit, params, rel: Relevant, list_type: str):
    return baselines.METHODS[method].lists(fit, params, rel.rows, evaluation.K, list_type)


def run(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    segments_as_of: SegmentsAsOf,
    test_days: int = config.TEST_WINDOW_DAYS,
    validation_days: int = config.VALIDATION_WINDOW_DAYS,
    folder: Path | None = None,
    threads: int = 1,
    top_k: int = config.TOP_K_SIMILAR,
) -> Outcome:
    """Tune on validation, refit, score the test window once; see the module docstring."""
    from include.ml.similarity import description_tokens

    started = time.monotonic()
    windows: Plan = evaluation.plan(interactions["invoice_date"], test_days, validation_days)
    if not windows.evaluated:
        return not_evaluated(windows.reason, interactions["invoice_date"])
    val, test = windows.validation, windows.test
    log.info(
        "windows: validation %s .. %s (fit before it), test %s .. %s (fit before it)",
        val.test_start.date(),
        val.test_end.date(),
        test.test_start.date(),
        test.test_end.date(),
    )
    tokens = description_tokens(products["description"])
    dates = pd.to_datetime(interactions["invoice_date"])
    sold = {
        split: np.sort(pd.unique(interactions.loc[dates < split.test_start, "product_id"]).astype(str))
        for split in (val, test)
    }  # the shop's catalogue before each window (whoever bought)
    interactions = _customer_sample(interactions)
    from concurrent.futures import ThreadPoolExecutor

    # the segments as of each window (SQL and the segmentation models) load while the fits work
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segments")
    segments = {split: background.submit(segments_as_of, split.test_start) for split in (val, test)}
    background.shutdown(wait=False)

    def fit_before(split: evaluation.Split) -> signals.Fit:
        """Everything fitted on the data before the split's window (products sold before it)."""
        return make_fit(
            interactions,
            products,
            split.test_start,
            segments[split],
            threads=threads,
            top_k=top_k,
            tokens=tokens,
            catalogue=sold[split],
        )

    val_fit = fit_before(val)
    in_validation = pd.to_datetime(interactions["invoice_date"]) <= val.test_end
    val_relevant = _relevant(val_fit, interactions[in_validation], val)
    reason = _too_few(val_relevant, "validation")
    if reason:
        return not_evaluated(reason, interactions["invoice_date"])
    log.info(
        "validation fit: %d customers, %d products sold before %s; %d discover / %d buy_again customers",
        val_fit.history.n_customers,
        val_fit.history.n_products,
        val.test_start.date(),
        val_relevant["discover"].n_customers,
        val_relevant["buy_again"].n_customers,
    )

    # 1. every baseline tunes its own parameters on the validation window
    _, skipped = _methods("discover", val_fit.history.n_products)
    for name, why in skipped.items():
        log.warning("%s: %s", name, why)
    names = [m for m in dict.fromkeys(DISCOVER_METHODS + BUY_AGAIN_METHODS) if m not in skipped]
    seeds = {
        name: config.SEED + i for i, name in enumerate(dict.fromkeys(DISCOVER_METHODS + BUY_AGAIN_METHODS))
    }

    def tune(name: str) -> tuning.Tuned:
        return side_process.tune(name, val_fit, val_relevant, seeds[name], folder)

    _warm(val_fit)
    val_fit.score_rows = _union_rows(val_relevant)
    # the test fit now too: a side process gets both histories at once
    test_fit = fit_before(test)
    test_relevant = _relevant(test_fit, interactions, test)
    _warm(test_fit)
    test_fit.score_rows = _union_rows(test_relevant)
    work = side_process.Work(
        [m for m in ORDER if m in names],
        seeds,
        _side_process(val_fit, val_relevant, test_fit, test_relevant, threads, top_k, folder),
        here_only=HERE_ONLY,
    )
    tuned: dict[str, tuning.Tuned] = {}

    def collect(name: str) -> None:
        """A side-tuned method's result; ALS's validation factors go into the fit (the hybrid's)."""
        if name not in tuned:
            tuned[name], factors = work.tuned(name)
            if factors is not None:
                val_fit.keep_als(**side_process.als_key(tuned[name].params), value=factors)

    try:
        # the hybrid's sources here (the side process starts on ALS), then the hybrid
        while (name := work.next_here(only=SOURCES)) is not None:
            tuned[name] = tune(name)
        for name in work.remote:  # every source is tuned or handed out by now
            if name in SOURCES:
                collect(name)
        # 2. the hybrid: components from the tuned baselines, weights tuned on the same window
        specs, hybrid_values, hybrid_trials = {}, {}, {}
        for offset, lt in enumerate(LIST_TYPES):
            spec = tuning.hybrid_spec(lt, tuned)
            specs[lt], hybrid_values[lt], hybrid_trials[lt] = tuning.tune_hybrid(
                spec, val_fit, val_relevant[lt], config.SEED + 100 + offset, folder
            )
        val_fit.cache.clear()  # the hybrid's validation signals are not needed any more
        log.info("hybrid tuned at %.1f s (the side process may still be at work)", time.monotonic() - started)
        reason = _too_few(test_relevant, "test")
        if reason:
            outcome = not_evaluated(reason, interactions["invoice_date"])
            outcome.specs = specs
            return outcome

        # 3. score every method once on the test window, where it was tuned; then the methods
        # the side process has not started on yet: tuned and scored here
        scored = {}

        def score_here(name: str) -> None:
            for lt in baselines.METHODS[name].list_types:
                t0 = time.monotonic()
                scored[(name, lt)] = _test_lists(
                    name, test_fit, tuned[name].params[lt], test_relevant[lt], lt
                )
                log.info("test %s %-18s scored in %.2f s", lt, name, time.monotonic() - t0)
            test_fit.release(*PRIVATE.get(name, ()))

        for name in [n for n in tuned if n not in work.remote]:
            score_here(name)
        while (name := work.next_here()) is not None:
            tuned[name] = tune(name)
            score_here(name)
        val_fit.cache.clear()
        if "als" in work.remote:  # the side's test factors serve the hybrid's ALS component
            collect("als")
            _, factors = work.scored("als")
            test_fit.keep_als(**side_process.als_key(tuned["als"].params), value=factors)
        hybrid_tops = {}
        for lt in LIST_TYPES:
            cands = recommender.candidates(test_fit, specs[lt], test_relevant[lt].rows, evaluation.K)
            hybrid_tops[lt] = recommender.top_n(cands, specs[lt].weights, evaluation.K)
        for name in work.remote:
            collect(name)
            tops, _ = work.scored(name)
            scored.update({(name, lt): top for lt, top in tops.items()})
        log.info("test lists scored at %.1f s", time.monotonic() - started)
    finally:
        work.shutdown()
    rows = []
    for lt in LIST_TYPES:
        rel = test_relevant[lt]
        per_user, tops, notes = {}, {}, {}
        for name in _list_methods(lt):
            if name not in tuned:
                continue
            tops[name] = scored[(name, lt)]
            per_user[name] = evaluation.per_customer(tops[name], rel)
            notes[name] = _note(tuned[name].params[lt], tuned[name].value[lt], tuned[name].trials, val)
            log.info("test %s %-18s ndcg@10 %.4f", lt, name, per_user[name]["ndcg_at_10"].mean())
        tops[HYBRID] = hybrid_tops[lt]
        per_user[HYBRID] = evaluation.per_customer(tops[HYBRID], rel)
        notes[HYBRID] = _note(
            {
                "half_life_days": specs[lt].half_life_days,
                **{f"w_{k}": round(v, 4) for k, v in specs[lt].weights.items()},
            },
            hybrid_values[lt],
            hybrid_trials[lt],
            val,
        )
        log.info("test %s %-18s ndcg@10 %.4f", lt, HYBRID, per_user[HYBRID]["ndcg_at_10"].mean())
        names = list(per_user)
        diffs = np.column_stack([per_user[HYBRID]["ndcg_at_10"] - per_user[m]["ndcg_at_10"] for m in names])
        low, high = evaluation.paired_bootstrap(diffs, config.BOOTSTRAP_RESAMPLES, config.SEED)
        for i, name in enumerate(names):
            summary = evaluation.summary(per_user[name], tops[name], test_fit.history.n_products)
            rows.append(
                {
                    "method": name,
                    "list_type": lt,
                    **summary,
                    **test.as_dates(),
                    "ndcg_diff_vs_hybrid_low": float(low[i]),
                    "ndcg_diff_vs_hybrid_high": float(high[i]),
                    "evaluation_status": "evaluated",
                    "evaluation_note": notes[name],
                }
            )
        for name, why in skipped.items():
            if name in _list_methods(lt):
                rows.append(_unscored_row(name, lt, test.as_dates(), "skipped", why))
    metrics = pd.DataFrame(rows)
    log.info("evaluation protocol in %.1f s", time.monotonic() - started)
    return Outcome(metrics, specs, "evaluated")


def _list_methods(list_type: str) -> tuple[str, ...]:
    return DISCOVER_METHODS if list_type == "discover" else BUY_AGAIN_METHODS


# signals only one baseline uses (released after its study and its test score; the hybrid keeps
# ALS, the item-kNN pool, the content and co-purchase neighbours)
PRIVATE = side_process.PRIVATE
# the order the main process tunes in (it takes from the front, a side process from the back):
# the hybrid's sources first (the main process tunes them, then the hybrid), ALS last (the side
# process starts on it: the costliest source), the other heavy methods before it; segment
# popularity reads the segments, which only the main process has
ORDER = (
    "item_knn co_purchase_only content_only segment_popularity recent_popularity own_most_bought"
    " global_popularity rp3beta user_knn ease als"
).split()
SOURCES = tuple(recommender.COMPONENT_SOURCES.values())
HERE_ONLY = ("segment_popularity",)


def _warm(fit: signals.Fit) -> None:
    """Build the History matrices every method reads before threads share the fit."""
    h = fit.history
    h.bought, h.weighted(None), h.popularity(), fit.global_order


def _side_process(val_fit, val_relevant, test_fit, test_relevant, threads, top_k, folder):
    """A side process for a shop large enough to pay its start (about a second), else None."""
    import multiprocessing

    if config.RECOMMEND_WORKERS < 2 or val_fit.history.n_pairs < config.SIDE_PROCESS_MIN_PAIRS:
        return None
    if multiprocessing.current_process().daemon:  # may not have children: all work here
        log.warning("a daemonic process cannot start the evaluation's side process: one process tunes all")
        return None
    return side_process.SideProcess(
        side_process.Window.of(val_fit, val_relevant),
        side_process.Window.of(test_fit, test_relevant),
        threads,
        top_k,
        folder,
    )


def _note(params: dict, value: float, trials: int, val: evaluation.Split) -> str:
    return (
        f"tuned on {val.test_start.date()} .. {val.test_end.date()} ({trials} trials, validation ndcg@10"
        f" {value:.4f}): {json.dumps(params, default=str)}"
    )
