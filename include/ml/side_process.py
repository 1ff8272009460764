"""A second process for the evaluation's heaviest methods.

The evaluation tunes a dozen methods; ALS (implicit), EASE^R, user-kNN and RP3beta cost the
most, and the first two hold the GIL in parts a second *thread* would need (measured: two ALS
fits in two threads take as long as one after the other; sparse_dot_topn holds it too). So
they go to one spawned worker process, which gets copies of the validation and test histories
once (a few arrays per history, pickled), tunes the methods it is handed on the validation fit
and scores them once on the test fit, while the main process tunes the rest and the hybrid.

Its log records come back through a queue and are re-emitted by the parent's loggers, so they
land in the task log like the rest. A failure in the worker raises in the parent (the future's
exception), with the worker's traceback.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from include.ml import baselines, evaluation, signals, tuning
from include.ml.evaluation import Relevant

log = logging.getLogger(__name__)

# what only one baseline uses, released after its study / its test lists (memory of large shops)
PRIVATE = {"rp3beta": ("rp3_pool",), "ease": ("gram", "ease", "ease_scores")}


@dataclass(frozen=True)
class Window:
    """What the worker needs of one split: the history (without its cached matrices), the
    descriptions, and the customers scored on the window per list type."""

    history: signals.History
    descriptions: pd.Series
    relevant: dict[str, Relevant]

    @classmethod
    def of(cls, fit: signals.Fit, relevant: dict[str, Relevant]) -> Window:
        return cls(replace(fit.history, _cache={}), fit.descriptions, relevant)

    def fit(self, threads: int, top_k: int) -> signals.Fit:
        fit = signals.Fit(self.history, self.descriptions, None, threads=threads, content_neighbours=top_k)
        fit.score_rows = np.unique(np.concatenate([r.rows for r in self.relevant.values()]))
        return fit


_WORKER: dict = {}  # in the worker process: the two fits and what it needs to tune


class _Relay(logging.Handler):
    """In the parent: a record from the worker, handed to the logger it was made by."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def _start(queue, validation: Window, test: Window, threads: int, top_k: int, folder: Path | None) -> None:
    """The worker's initializer: logging into the queue, thread limits, the two fits."""
    from threadpoolctl import threadpool_limits

    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(queue)]
    root.setLevel(logging.INFO)
    _WORKER.update(
        limits=threadpool_limits(limits=threads),  # kept: the limits hold while it lives
        validation=validation.fit(threads, top_k),
        test=test.fit(threads, top_k),
        relevant={"validation": validation.relevant, "test": test.relevant},
        folder=folder,
    )


def tune(name: str, fit: signals.Fit, relevant: dict[str, Relevant], seed: int, folder) -> tuning.Tuned:
    """Tune baseline `name` on `fit` (either process), then drop what only it uses."""
    method = baselines.METHODS[name]
    tuned = tuning.tune_method(method, fit, {lt: relevant[lt] for lt in method.list_types}, seed, folder)
    fit.release(*PRIVATE.get(name, ()))
    return tuned


def _tune(name: str, seed: int) -> tuple[tuning.Tuned, signals.Factors | None]:
    """Tune `name` on the validation fit. ALS also returns the factors of its best parameters
    (the hybrid's ALS component, so the parent does not fit them again)."""
    fit = _WORKER["validation"]
    tuned = tune(name, fit, _WORKER["relevant"]["validation"], seed, _WORKER["folder"])
    return tuned, _als_factors(fit, tuned.params) if name == "als" else None


def _score(name: str, params: dict[str, dict]) -> tuple[dict[str, object], signals.Factors | None]:
    """The test lists of `name` with its tuned parameters, per list type it serves."""
    fit, relevant = _WORKER["test"], _WORKER["relevant"]["test"]
    method = baselines.METHODS[name]
    tops = {
        lt: method.lists(fit, params[lt], relevant[lt].rows, evaluation.K, lt) for lt in method.list_types
    }
    factors = _als_factors(fit, params) if name == "als" else None
    fit.release(*PRIVATE.get(name, ()))
    return tops, factors


def _als_factors(fit: signals.Fit, params: dict[str, dict]) -> signals.Factors:
    """The factors of the tuned ALS parameters (cached in `fit` by the last trial or fitted)."""
    return fit.als(**als_key(params))


def als_key(params: dict[str, dict]) -> dict:
    """Fit.als's arguments of ALS's tuned parameters (per list type)."""
    best = params[baselines.METHODS["als"].list_types[0]]
    return {
        "factors": int(best["factors"]),
        "regularization": float(best["regularization"]),
        "alpha": float(best["alpha"]),
    }


class SideProcess:
    """One spawned worker process holding copies of the validation and test fits."""

    def __init__(
        self,
        validation: Window,
        test: Window,
        threads: int,
        top_k: int,
        folder: Path | None,
    ):
        context = multiprocessing.get_context("spawn")  # no fork of a threaded task process
        self._queue = context.Queue()
        self._listener = logging.handlers.QueueListener(self._queue, _Relay())
        self._listener.start()
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            initializer=_start,
            initargs=(self._queue, validation, test, threads, top_k, folder),
        )

    def tune(self, name: str, seed: int) -> Future:
        """A future of (Tuned, ALS factors or None)."""
        return self._pool.submit(_tune, name, seed)

    def score(self, name: str, params: dict[str, dict]) -> Future:
        """A future of ({list type: TopN}, ALS factors or None)."""
        return self._pool.submit(_score, name, params)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._listener.stop()


class Work:
    """The methods an evaluation tunes, shared by the main process, which takes them from the
    front (first the hybrid's sources, then whatever is left), and the side process (None: the
    main process does all), fed from the back one at a time by a thread that hands each tuned method straight on to its test scoring there. The
    two meet where their work balances, whatever the shop's size."""

    def __init__(self, names: list[str], seeds: dict[str, int], side: SideProcess | None, here_only=()):
        import threading
        from collections import deque

        self._queue, self._here_only, self._seeds, self._side = deque(names), set(here_only), seeds, side
        self._lock = threading.Lock()
        self._tuned: dict[str, Future] = {}
        self._scored: dict[str, Future] = {}
        self._feeder = None
        if side is not None:
            self._feeder = threading.Thread(target=self._feed, name="side-process-feed", daemon=True)
            self._feeder.start()

    def _take_for_side(self) -> str | None:
        with self._lock:
            for i in range(len(self._queue) - 1, -1, -1):
                name = self._queue[i]
                if name not in self._here_only:
                    del self._queue[i]
                    self._tuned[name], self._scored[name] = Future(), Future()
                    return name
            return None

    def _feed(self) -> None:
        while (name := self._take_for_side()) is not None:
            try:
                tuned, factors = self._side.tune(name, self._seeds[name]).result()
            except BaseException as error:  # the main process raises it when it collects
                self._tuned[name].set_exception(error)
                self._scored[name].set_exception(error)
                return  # the rest is the main process's
            self._tuned[name].set_result((tuned, factors))
            self._scored[name].set_result(self._side.score(name, tuned.params))

    def next_here(self, only=None) -> str | None:
        """The next method for the main process (of `only`, if given), None when there is none
        left to hand out."""
        with self._lock:
            for i, name in enumerate(self._queue):
                if only is None or name in only:
                    del self._queue[i]
                    return name
            return None

    @property
    def remote(self) -> list[str]:
        """The methods handed to the side process (complete once next_here gave None)."""
        with self._lock:
            return list(self._tuned)

    def tuned(self, name: str) -> tuple[tuning.Tuned, signals.Factors | None]:
        """A side-tuned method's result (waits for it)."""
        return self._tuned[name].result()

    def scored(self, name: str) -> tuple[dict[str, object], signals.Factors | None]:
        """A side-tuned method's test lists per list type (waits for them)."""
        return self._scored[name].result().result()

    def shutdown(self) -> None:
        if self._side is not None:
            with self._lock:
                self._queue.clear()
            self._feeder.join()
            self._side.shutdown()
