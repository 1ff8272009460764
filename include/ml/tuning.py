"""Hyper-parameters of every method, tuned by Optuna on the validation window.

Every method (baseline or hybrid) gets a seeded TPE study whose budget depends only on the
size of its search space: clip(TUNING_TRIALS_PER_PARAMETER x parameters, TUNING_MIN_TRIALS,
TUNING_MAX_TRIALS) trials. The first half are the method's default parameters and a seeded
Latin hypercube over the space (so that a small budget still spans every range), the rest TPE. The objective is the mean
NDCG@10 on the validation window; the fit it scores was made on the data before that window.
A method serving both list types (EASE) scores both in each trial; its study follows the
discover score and each list type keeps its best trial. Studies are saved with the run
(`<folder>/<list_type>_<method>.pkl`, a joblib dump of the optuna Study, and a CSV of trials).

The hybrid's study tunes its weights (and the similar-customers half-life among
SIMILAR_CUSTOMERS_HALF_LIVES) over candidate signals computed once per half-life: a trial is a
weighted sum and a top-n.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from include import config
from include.ml import baselines, evaluation, recommender
from include.ml.baselines import Method, Param
from include.ml.evaluation import Relevant
from include.ml.recommender import HybridSpec
from include.ml.signals import Fit

log = logging.getLogger(__name__)


def n_trials(n_params: int) -> int:
    """The trial budget of a search space of n_params parameters."""
    return int(
        np.clip(
            config.TUNING_TRIALS_PER_PARAMETER * n_params, config.TUNING_MIN_TRIALS, config.TUNING_MAX_TRIALS
        )
    )


def _study(seed: int, startup: int):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    return optuna.create_study(direction="maximize", sampler=sampler)


def initial_design(space: tuple[Param, ...], points: int, seed: int) -> list[dict]:
    """A seeded Latin hypercube of `points` settings over the space (log scale where the
    parameter is), the start of every study: each parameter's range is cut into `points`
    strata and each stratum is used once, so a few trials already span the range (TPE's
    random start can leave a whole region untried)."""
    rng = np.random.default_rng(seed)
    design = [{} for _ in range(points)]
    for p in space:
        strata = (rng.permutation(points) + rng.random(points)) / points  # one draw per stratum
        for i, u in enumerate(strata):
            if p.kind == "cat":
                design[i][p.name] = p.choices[int(u * len(p.choices)) % len(p.choices)]
                continue
            low, high = float(p.low), float(p.high)
            value = (
                np.exp(np.log(low) + u * (np.log(high) - np.log(low))) if p.log else low + u * (high - low)
            )
            design[i][p.name] = int(round(value)) if p.kind == "int" else float(value)
    return design


def _start(
    study, space: tuple[Param, ...], defaults: dict, budget: int, seed: int, extra: list | None = None
) -> int:
    """Enqueue the defaults, `extra` settings and a Latin hypercube: half the budget in all (at
    least 2 hypercube points). Returns the number enqueued (TPE's random start)."""
    extra = extra or []
    points = [defaults, *extra, *initial_design(space, max(2, budget // 2 - len(extra)), seed)]
    for point in points:
        study.enqueue_trial(point)
    return len(points)


def _save(study, folder: Path | None, name: str) -> None:
    if folder is None:
        return
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(study, folder / f"{name}.pkl")
    study.trials_dataframe().to_csv(folder / f"{name}_trials.csv", index=False)


class _Progress:
    def __init__(self, name: str, total: int):
        self.name, self.total, self.started = name, total, time.monotonic()

    def __call__(self, study, trial) -> None:
        done = trial.number + 1
        if done % 5 and done != self.total:
            return
        elapsed = time.monotonic() - self.started
        log.info(
            "tuning %-22s trial %d/%d  best ndcg@10 %.4f  %.1f s (%.1f s left)",
            self.name,
            done,
            self.total,
            study.best_value,
            elapsed,
            elapsed / done * (self.total - done),
        )


@dataclass
class Tuned:
    """A method's best parameters and validation NDCG@10 per list type."""

    method: str
    params: dict[str, dict]
    value: dict[str, float]
    trials: int
    seconds: float


def tune_method(
    method: Method, fit: Fit, relevant: dict[str, Relevant], seed: int, folder: Path | None = None
) -> Tuned:
    """Seeded TPE over the method's space on the validation customers of `relevant`."""
    started, cpu = time.monotonic(), time.process_time()
    budget = n_trials(len(method.space))
    study = _study(seed, startup=1 + max(2, budget // 2))  # = the points _start enqueues
    seen: dict[tuple, dict[str, float]] = {}

    def objective(trial) -> float:
        params = {p.name: p.suggest(trial) for p in method.space}
        key = tuple(sorted(params.items()))
        if key not in seen:  # a categorical space repeats itself: score each setting once
            seen[key] = {
                lt: evaluation.ndcg(
                    method.lists(fit, params, relevant[lt].rows, evaluation.K, lt), relevant[lt]
                )
                for lt in method.list_types
            }
        for lt, value in seen[key].items():
            trial.set_user_attr(lt, value)
        return seen[key][method.list_types[0]]

    _start(study, method.space, method.defaults, budget, seed)
    study.optimize(objective, n_trials=budget, callbacks=[_Progress(method.name, budget)])
    params, value = {}, {}
    for lt in method.list_types:
        best = max(study.trials, key=lambda t, lt=lt: (t.user_attrs.get(lt, -1.0), -t.number))
        params[lt], value[lt] = dict(best.params), float(best.user_attrs[lt])
    _save(study, folder, f"{method.list_types[0]}_{method.name}")
    seconds = time.monotonic() - started
    log.info(
        "tuned %s in %d trials, %.1f s (cpu %.1f s): %s",
        method.name,
        budget,
        seconds,
        time.process_time() - cpu,
        {lt: (round(value[lt], 4), params[lt]) for lt in params},
    )
    return Tuned(method.name, params, value, budget, seconds)


def hybrid_spec(list_type: str, tuned: dict[str, Tuned]) -> HybridSpec:
    """The hybrid's components with the parameters their baselines were tuned to."""
    spec = recommender.default_spec(list_type)
    components = dict(spec.components)
    for name, source in recommender.COMPONENT_SOURCES.items():
        if source in tuned:
            lt = baselines.METHODS[source].list_types[0]
            components[name] = tuned[source].params[lt]
    return replace(spec, components=components)


def tune_hybrid(
    spec: HybridSpec, fit: Fit, relevant: Relevant, seed: int, folder: Path | None = None
) -> tuple[HybridSpec, float, int]:
    """Weights (each in [0, 1]) and half-life of the hybrid by seeded TPE; the candidate
    signals are computed once per half-life and every trial re-weights them."""
    started, cpu = time.monotonic(), time.process_time()
    names = recommender.COMPONENTS[spec.list_type]
    half_lives = tuple(float(h) for h in config.SIMILAR_CUSTOMERS_HALF_LIVES)
    budget = n_trials(len(names) + (len(half_lives) > 1))
    study = _study(seed, startup=1 + len(names) + max(2, budget // 2 - len(names)))
    cached: dict[float, recommender.Candidates] = {}
    parts: dict = {}  # what does not depend on the half-life, computed once

    def objective(trial) -> float:
        half_life = (
            trial.suggest_categorical("half_life_days", list(half_lives))
            if len(half_lives) > 1
            else half_lives[0]
        )
        weights = {name: trial.suggest_float(f"w_{name}", 0.0, 1.0) for name in names}
        if not any(weights.values()):
            return 0.0
        if half_life not in cached:
            cached[half_life] = recommender.candidates(
                fit,
                replace(spec, half_life_days=half_life),
                relevant.rows,
                evaluation.K,
                only=names,
                cache=parts,
            )
        top = recommender.top_n(cached[half_life], weights, evaluation.K)
        return evaluation.ndcg(top, relevant)

    default = {f"w_{name}": 1.0 for name in names}
    if len(half_lives) > 1:
        default["half_life_days"] = (
            spec.half_life_days if spec.half_life_days in half_lives else half_lives[0]
        )
    study.enqueue_trial(default)
    study.optimize(objective, n_trials=budget, callbacks=[_Progress(f"hybrid {spec.list_type}", budget)])
    best = study.best_trial
    weights = {name: float(best.params[f"w_{name}"]) for name in names}
    half_life = float(best.params.get("half_life_days", half_lives[0]))
    tuned = replace(spec, weights=weights, half_life_days=half_life)
    _save(study, folder, f"{spec.list_type}_hybrid")
    log.info(
        "tuned hybrid %s in %d trials, %.1f s (cpu %.1f s): ndcg@10 %.4f, half-life %g d, weights %s",
        spec.list_type,
        budget,
        time.monotonic() - started,
        time.process_time() - cpu,
        best.value,
        half_life,
        {k: round(v, 3) for k, v in weights.items()},
    )
    return tuned, float(best.value), budget
