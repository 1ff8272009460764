"""Customer segmentation, pure functions over a scaled feature matrix (no database, no files).

- **K-means sweep** over k_min..k_max: inertia, silhouette (on a fixed sample of at most
  `SILHOUETTE_SAMPLE` customers), Davies-Bouldin and Calinski-Harabasz per k. Above
  `MINIBATCH_ABOVE` customers MiniBatchKMeans replaces KMeans (same seed).
- **Elbow**: the k whose point of the min-max normalised inertia curve lies farthest below the
  chord joining its first and last points (the "kneedle" / max-distance-to-chord rule).
- **Choice of k** (`choose_k`): the best silhouette among elbow-1, elbow, elbow+1. The elbow says
  where more clusters stop paying off; the silhouette picks the best separated k near it. When
  the best silhouette overall lies outside that window the two disagree, and the log says so.
- **Stable segment ids**: clusters renumbered 1..k by the mean of the population's value column
  (net revenue; total spend), highest first, so reruns on the same data give the same ids.
- **PCA**: 2-D coordinates and the explained variance ratio, for plotting.
- **DBSCAN** for outliers: min_samples = 2 x number of features; eps = the knee of the sorted
  k-distance curve (distance to the min_samples-th neighbour, self included, as DBSCAN counts);
  fitted on a sample of at most `DBSCAN_SAMPLE`, the others join the cluster of their nearest
  core point when it lies within eps, else they are noise. Noise = outlier. Degenerate results
  (all noise, one cluster, more than half noise) are logged as warnings.
- **Agglomerative (Ward)**: one Ward tree on a sample of at most `AGGLOMERATIVE_SAMPLE`, cut at
  every k; the other customers join the nearest cluster centroid. Same metrics as K-means.
- **Names**: each segment's mean profile (z-scores of log1p of the naming features) is matched
  one-to-one to named prototypes (Champions, Loyal, Big spenders, At risk, ...) by the smallest
  total squared distance (Hungarian assignment).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from include.errors import BadInputError

log = logging.getLogger(__name__)

ALGORITHMS = ("kmeans", "agglomerative")


class SegmentationError(BadInputError, ValueError):
    """The data or the parameters cannot give a segmentation (too few customers, bad k range)."""


# --- helpers --------------------------------------------------------------------------------------


def sample_indices(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a reproducible random sample of min(n, size) rows."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def validate_k_range(k_min: int, k_max: int, n: int) -> list[int]:
    if k_min < 2:
        raise SegmentationError(f"k_min must be at least 2, got {k_min}")
    if k_max < k_min:
        raise SegmentationError(f"k_max ({k_max}) must not be below k_min ({k_min})")
    if n <= k_max:
        raise SegmentationError(f"{n} customers are too few for k up to {k_max}: need more than k_max")
    return list(range(k_min, k_max + 1))


def silhouettes(x: np.ndarray, labelings: list[np.ndarray], chunk: int = 1024) -> list[float | None]:
    """The mean silhouette of every labelling of the same rows `x`, in one pass over the
    pairwise distances: a chunk of rows' euclidean distances to all rows is multiplied by the
    one-hot columns of every labelling at once (rows x clusters sums), so the n^2 distances are
    computed once instead of once per labelling. Same definition as scikit-learn's
    silhouette_score (a singleton's own silhouette is 0); None where it is undefined (fewer than
    2 clusters, or as many clusters as rows)."""
    n = len(x)
    codes, counts, offsets, width = [], [], [], 0
    for labels in labelings:
        _, code, count = np.unique(labels, return_inverse=True, return_counts=True)
        codes.append(code.ravel())
        counts.append(count.astype(np.float64))
        offsets.append(width)
        width += len(count)
    onehot = np.zeros((n, width))
    for code, offset in zip(codes, offsets, strict=True):
        onehot[np.arange(n), offset + code] = 1.0
    totals = [np.zeros(n) for _ in labelings]
    x = np.asarray(x, dtype=np.float64)
    squares = (x**2).sum(axis=1)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        d2 = squares[start:stop, None] + squares[None, :] - 2.0 * (x[start:stop] @ x.T)
        distances = np.sqrt(np.maximum(d2, 0.0))
        distances[np.arange(stop - start), np.arange(start, stop)] = 0.0  # self
        sums = distances @ onehot  # rows x every labelling's clusters
        for j, (code, count, offset) in enumerate(zip(codes, counts, offsets, strict=True)):
            block = sums[:, offset : offset + len(count)]
            own = code[start:stop]
            rows = np.arange(stop - start)
            own_size = count[own]
            with np.errstate(divide="ignore", invalid="ignore"):
                intra = block[rows, own] / (own_size - 1.0)
                means = block / count[None, :]
            means[rows, own] = np.inf
            inter = means.min(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                value = (inter - intra) / np.maximum(intra, inter)
            value = np.where(own_size > 1, np.nan_to_num(value), 0.0)
            totals[j][start:stop] = value
    return [
        float(total.mean()) if 1 < len(count) < n else None
        for total, count in zip(totals, counts, strict=True)
    ]


def cluster_scores(x: np.ndarray, labels: np.ndarray, silhouette: float | None) -> dict[str, float | None]:
    """The silhouette (computed on a sample by `silhouettes`), Davies-Bouldin and
    Calinski-Harabasz (all rows)."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    if len(np.unique(labels)) < 2:
        return {"silhouette": None, "davies_bouldin": None, "calinski_harabasz": None}
    return {
        "silhouette": silhouette,
        "davies_bouldin": float(davies_bouldin_score(x, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(x, labels)),
    }


def within_sse(x: np.ndarray, labels: np.ndarray) -> float:
    """Sum of squared distances of the rows to their cluster's mean (inertia)."""
    total = 0.0
    for label in np.unique(labels):
        members = x[labels == label]
        total += float(((members - members.mean(axis=0)) ** 2).sum())
    return total


# --- K-means and Ward sweeps ----------------------------------------------------------------------


def kmeans_model(k: int, n: int, seed: int, minibatch_above: int):
    """KMeans (n_init=10) up to `minibatch_above` rows, MiniBatchKMeans beyond; both seeded."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if n > minibatch_above:
        return MiniBatchKMeans(
            n_clusters=k, random_state=seed, n_init=3, batch_size=4096, max_no_improvement=20
        )
    return KMeans(n_clusters=k, random_state=seed, n_init=10)


def sweep_kmeans(
    x: np.ndarray, ks: list[int], seed: int, minibatch_above: int, silhouette_sample: int
) -> tuple[pd.DataFrame, dict[int, object]]:
    """Fit K-means for every k; returns the metrics (one row per k) and the fitted models."""
    rows, models = [], {}
    for k in ks:
        started = time.monotonic()
        model = kmeans_model(k, len(x), seed, minibatch_above).fit(x)
        rows.append({"algorithm": "kmeans", "k": k, "inertia": float(model.inertia_), "fitted_on": len(x)})
        models[k] = model
        log.info(
            "kmeans k=%d (%s): inertia %.1f, %.2f s",
            k,
            type(model).__name__,
            model.inertia_,
            time.monotonic() - started,
        )
    return _with_scores(rows, x, {k: m.labels_ for k, m in models.items()}, seed, silhouette_sample), models


def _with_scores(
    rows: list[dict], x: np.ndarray, labels_by_k: dict[int, np.ndarray], seed: int, silhouette_sample: int
) -> pd.DataFrame:
    """The sweep's rows with every k's cluster scores; the silhouettes of all k in one pass
    over a fixed sample of the rows."""
    started = time.monotonic()
    sample = sample_indices(len(x), silhouette_sample, seed)
    values = silhouettes(x[sample], [labels_by_k[row["k"]][sample] for row in rows])
    for row, value in zip(rows, values, strict=True):
        row |= cluster_scores(x, labels_by_k[row["k"]], value)
    log.info(
        "%s silhouettes of k=%s on %d customers in %.2f s: %s",
        rows[0]["algorithm"] if rows else "",
        ",".join(str(row["k"]) for row in rows),
        len(sample),
        time.monotonic() - started,
        ", ".join(_fmt(row["silhouette"]) for row in rows),
    )
    return pd.DataFrame(rows)


def nearest_centroid_labels(x: np.ndarray, centroids: np.ndarray, block: int = 100_000) -> np.ndarray:
    """Index of the nearest centroid of every row (blocked: memory stays O(block x k))."""
    out = np.empty(len(x), dtype=np.int64)
    c2 = (centroids**2).sum(axis=1)
    for start in range(0, len(x), block):
        part = x[start : start + block]
        out[start : start + block] = np.argmin(c2[None, :] - 2 * part @ centroids.T, axis=1)
    return out


def sweep_ward(
    x: np.ndarray, ks: list[int], seed: int, sample_size: int, silhouette_sample: int
) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """One Ward tree on a sample, cut at every k; every row joins its nearest cluster centroid.
    Returns the metrics (one row per k) and the labels (0-based) of all rows per k."""
    from scipy.cluster.hierarchy import fcluster, linkage

    started = time.monotonic()
    fit_rows = sample_indices(len(x), sample_size, seed)
    tree = linkage(x[fit_rows], method="ward")
    log.info("ward tree on %d customers in %.2f s", len(fit_rows), time.monotonic() - started)
    rows, labels_by_k = [], {}
    for k in ks:
        cut = fcluster(tree, t=k, criterion="maxclust") - 1
        centroids = np.vstack([x[fit_rows][cut == c].mean(axis=0) for c in np.unique(cut)])
        labels = cut if len(fit_rows) == len(x) else nearest_centroid_labels(x, centroids)
        labels_by_k[k] = labels
        rows.append(
            {
                "algorithm": "agglomerative",
                "k": k,
                "inertia": within_sse(x, labels),
                "fitted_on": len(fit_rows),
            }
        )
    return _with_scores(rows, x, labels_by_k, seed, silhouette_sample), labels_by_k


# --- elbow and the choice of k --------------------------------------------------------------------


def find_elbow(ks: list[int], inertias: list[float]) -> int:
    """The k farthest below the chord of the min-max normalised inertia curve (kneedle)."""
    k = np.asarray(ks, dtype=float)
    y = np.asarray(inertias, dtype=float)
    if len(k) < 3 or y.max() == y.min():
        return int(k[0])
    xn = (k - k[0]) / (k[-1] - k[0])
    yn = (y - y.min()) / (y.max() - y.min())
    # chord from (0, yn[0]) to (1, yn[-1]); for a decreasing curve yn[0] = 1, yn[-1] = 0
    chord = yn[0] + (yn[-1] - yn[0]) * xn
    return int(k[int(np.argmax(chord - yn))])


@dataclass(frozen=True)
class KChoice:
    k: int
    elbow_k: int
    best_silhouette_k: int
    agree: bool
    rule: str


def choose_k(metrics: pd.DataFrame) -> KChoice:
    """Best silhouette within elbow +- 1 (ties: the smaller k); logs when elbow and silhouette
    disagree (the best silhouette overall lies outside that window)."""
    metrics = metrics.sort_values("k")
    ks = metrics["k"].tolist()
    elbow = find_elbow(ks, metrics["inertia"].tolist())
    silhouette = metrics.set_index("k")["silhouette"].astype(float).fillna(-np.inf)
    best = int(silhouette.idxmax())
    window = [k for k in ks if abs(k - elbow) <= 1]
    chosen = max(window, key=lambda k: (silhouette[k], -k))
    agree = best in window
    rule = "best silhouette within elbow +- 1"
    if agree:
        log.info("k=%d: elbow at k=%d, best silhouette at k=%d (%s)", chosen, elbow, best, rule)
    else:
        log.warning(
            "elbow and silhouette disagree: elbow at k=%d, best silhouette at k=%d (%.3f);"
            " chose k=%d (silhouette %.3f) by the rule: %s",
            elbow,
            best,
            silhouette[best],
            chosen,
            silhouette[chosen],
            rule,
        )
    return KChoice(chosen, elbow, best, agree, rule)


def mark_choice(metrics: pd.DataFrame, choice: KChoice, chosen: bool) -> pd.DataFrame:
    """The metrics with is_elbow / is_best_silhouette / is_chosen flags."""
    out = metrics.copy()
    out["is_elbow"] = out["k"] == choice.elbow_k
    out["is_best_silhouette"] = out["k"] == choice.best_silhouette_k
    out["is_chosen"] = chosen & (out["k"] == choice.k)
    return out


# --- stable ids -----------------------------------------------------------------------------------


def stable_segment_ids(labels: np.ndarray, value: np.ndarray) -> dict[int, int]:
    """Cluster label -> segment id 1..k, by the mean of `value` descending (ties: larger
    cluster first, then the smaller label)."""
    frame = pd.DataFrame({"label": labels, "value": value})
    stats = frame.groupby("label")["value"].agg(["mean", "size"]).reset_index()
    stats = stats.sort_values(["mean", "size", "label"], ascending=[False, False, True])
    return {int(label): i + 1 for i, label in enumerate(stats["label"])}


# --- PCA ------------------------------------------------------------------------------------------


def pca_2d(x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, object]:
    """2-D PCA coordinates, explained variance ratio of the two components, the fitted model.
    The sign of each component is fixed (largest loading positive) so reruns plot alike."""
    from sklearn.decomposition import PCA

    model = PCA(n_components=2, random_state=seed).fit(x)
    signs = np.sign(model.components_[np.arange(2), np.abs(model.components_).argmax(axis=1)])
    model.components_ *= signs[:, None]
    coords = model.transform(x)
    return coords, model.explained_variance_ratio_, model


# --- DBSCAN ---------------------------------------------------------------------------------------


def min_samples_rule(n_features: int) -> int:
    """DBSCAN min_samples: 2 x the number of features (Sander et al.'s rule of thumb)."""
    return 2 * n_features


def k_distances(x: np.ndarray, min_samples: int) -> np.ndarray:
    """Sorted distance of every row to its min_samples-th neighbour (the row itself counts)."""
    from sklearn.neighbors import NearestNeighbors

    distances, _ = NearestNeighbors(n_neighbors=min_samples).fit(x).kneighbors(x)
    return np.sort(distances[:, -1])


def knee_of_curve(y: np.ndarray) -> int:
    """Index of the knee of an increasing curve: the point farthest below the chord of the
    min-max normalised curve. The top 1 % is clipped first, so that a few extreme points do
    not flatten the rest of the curve into a line."""
    y = np.asarray(y, dtype=float)
    if len(y) < 3:
        return len(y) - 1
    clipped = np.minimum(y, np.quantile(y, 0.99))
    span = clipped[-1] - clipped[0]
    if span <= 0:
        return len(y) - 1
    xn = np.linspace(0.0, 1.0, len(y))
    yn = (clipped - clipped[0]) / span
    return int(np.argmax(xn - yn))


@dataclass
class DbscanResult:
    labels: np.ndarray  # -1 = noise
    eps: float
    min_samples: int
    n_clusters: int
    noise_share: float
    silhouette: float | None
    fitted_on: int
    k_distances: np.ndarray
    warnings: list[str] = field(default_factory=list)


def dbscan_outliers(x: np.ndarray, seed: int, sample_size: int, silhouette_sample: int) -> DbscanResult:
    """DBSCAN with eps from the k-distance knee, fitted on a sample; see the module docstring."""
    from sklearn.cluster import DBSCAN
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import NearestNeighbors

    min_samples = min(min_samples_rule(x.shape[1]), max(2, len(x) - 1))
    fit_rows = sample_indices(len(x), sample_size, seed)
    xs = x[fit_rows]
    kd = k_distances(xs, min_samples)
    eps = float(kd[knee_of_curve(kd)])
    if eps <= 0:
        eps = float(kd[kd > 0].min()) if (kd > 0).any() else 1e-9
    model = DBSCAN(eps=eps, min_samples=min_samples).fit(xs)
    labels = np.full(len(x), -1, dtype=np.int64)
    labels[fit_rows] = model.labels_
    core = model.core_sample_indices_
    if len(fit_rows) < len(x) and len(core):
        rest = np.setdiff1d(np.arange(len(x)), fit_rows, assume_unique=True)
        nn = NearestNeighbors(n_neighbors=1).fit(xs[core])
        for start in range(0, len(rest), 200_000):
            part = rest[start : start + 200_000]
            dist, idx = nn.kneighbors(x[part])
            near = dist[:, 0] <= eps
            labels[part[near]] = model.labels_[core[idx[near, 0]]]
    clusters = int(len(set(labels.tolist()) - {-1}))
    noise_share = float((labels == -1).mean())
    silhouette = None
    kept = np.flatnonzero(labels != -1)
    if clusters >= 2:
        pick = kept[sample_indices(len(kept), silhouette_sample, seed)]
        if len(np.unique(labels[pick])) >= 2:
            silhouette = float(silhouette_score(x[pick], labels[pick]))
    warnings = []
    if clusters == 0:
        warnings.append("DBSCAN marked every customer as noise")
    elif clusters == 1:
        warnings.append("DBSCAN found a single cluster: it only separates outliers from the rest")
    if noise_share > 0.5:
        warnings.append(f"DBSCAN marked {noise_share:.0%} of the customers as noise")
    for message in warnings:
        log.warning("%s (eps %.4f, min_samples %d)", message, eps, min_samples)
    log.info(
        "dbscan: eps %.4f (k-distance knee), min_samples %d, %d clusters, noise %.2f%%, silhouette %s",
        eps,
        min_samples,
        clusters,
        100 * noise_share,
        _fmt(silhouette),
    )
    return DbscanResult(
        labels, eps, min_samples, clusters, noise_share, silhouette, len(fit_rows), kd, warnings
    )


# --- names ----------------------------------------------------------------------------------------

# Prototype profiles: z-scores (of log1p) of the naming features, in the order of the population's
# naming_features. Transactions: recency_days, frequency, monetary, tenure_days, avg_basket_value,
# return_rate.
TRANSACTION_PROTOTYPES: dict[str, tuple[float, ...]] = {
    "Champions": (-1.0, 1.5, 1.5, 0.8, 0.5, 0.0),
    "Loyal": (-0.5, 0.8, 0.8, 0.8, 0.0, 0.0),
    "Big spenders": (0.0, 0.0, 0.8, 0.0, 1.5, 0.0),
    "Potential loyalists": (-0.8, 0.3, 0.3, -0.3, 0.0, 0.0),
    "New": (-1.0, -0.8, -0.5, -1.5, 0.0, 0.0),
    "Promising": (-0.5, -0.4, -0.3, -0.8, 0.3, 0.0),
    "Needs attention": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "At risk": (0.8, 0.5, 0.5, 0.8, 0.0, 0.0),
    "Can't lose them": (1.0, 1.2, 1.2, 1.0, 0.5, 0.0),
    "Hibernating": (0.8, -0.5, -0.5, 0.0, 0.0, 0.0),
    "Lost": (1.5, -1.0, -1.0, 0.5, -0.5, 0.0),
    "Heavy returners": (0.3, -0.3, -1.5, 0.0, 0.0, 3.0),
}
# Profiles: total_spend, income, household, purchases_deals, accepted_campaigns, web_visits_month.
PROFILE_PROTOTYPES: dict[str, tuple[float, ...]] = {
    "Affluent big spenders": (1.2, 1.2, -1.0, -0.5, 0.5, -1.0),
    "Campaign responders": (1.0, 1.0, -0.8, -0.5, 2.0, -0.5),
    "Established spenders": (0.6, 0.5, 0.0, 0.2, 0.0, -0.3),
    "Deal-seeking families": (0.0, 0.0, 0.8, 1.0, 0.0, 0.5),
    "Budget families": (-1.0, -0.8, 0.8, -0.2, -0.3, 0.6),
    "Low spenders": (-1.0, -0.8, 0.0, -0.5, -0.3, 0.3),
    "Average customers": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "Web browsers": (-0.3, -0.3, 0.0, 0.0, -0.2, 1.2),
}
PROTOTYPES = {"transactions": TRANSACTION_PROTOTYPES, "customer_profiles": PROFILE_PROTOTYPES}


def naming_profile(frame: pd.DataFrame, segment_ids: np.ndarray, columns: tuple[str, ...]) -> pd.DataFrame:
    """Per segment (rows, by id) the mean z-score of sign(x) log1p(|x|) of each naming column."""
    from include.ml.features import signed_log1p

    raw = frame[list(columns)].astype("float64")
    values = pd.DataFrame({c: signed_log1p(raw[c].fillna(raw[c].median()).to_numpy()) for c in columns})
    std = values.std(ddof=0).replace(0, 1)
    z = (values - values.mean()) / std
    z["segment_id"] = segment_ids
    return z.groupby("segment_id")[list(columns)].mean().sort_index()


def name_segments(profile: pd.DataFrame, prototypes: dict[str, tuple[float, ...]]) -> dict[int, str]:
    """Segment id -> name: one-to-one assignment of segment profiles to prototypes with the
    smallest total squared distance. More segments than names: names repeat with ' 2', ' 3'."""
    from scipy.optimize import linear_sum_assignment

    names = list(prototypes)
    rounds = -(-len(profile) // len(names))
    labels = [name if r == 0 else f"{name} {r + 1}" for r in range(rounds) for name in names]
    protos = np.array(
        [prototypes[name.rsplit(" ", 1)[0] if name not in prototypes else name] for name in labels]
    )
    cost = ((profile.to_numpy()[:, None, :] - protos[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    return {int(profile.index[r]): labels[c] for r, c in zip(rows, cols, strict=True)}


# --- the whole segmentation -----------------------------------------------------------------------


@dataclass
class Segmentation:
    """Everything one run produces (all arrays in the order of the feature rows)."""

    algorithm: str
    choice: KChoice
    metrics: pd.DataFrame  # one row per algorithm and k (+ one dbscan row)
    kmeans_choice: KChoice
    kmeans_model: object
    kmeans_labels: np.ndarray
    segment_ids: np.ndarray
    segment_names: dict[int, str]
    centroids: np.ndarray  # per segment id 1..k (row i = segment i + 1), scaled space
    pca_coords: np.ndarray
    pca_explained: np.ndarray
    pca_model: object
    dbscan: DbscanResult
    seconds: dict[str, float]


def segment(
    x: np.ndarray,
    frame: pd.DataFrame,
    population: str,
    value_column: str,
    naming_features: tuple[str, ...],
    algorithm: str,
    ks: list[int],
    seed: int,
    minibatch_above: int,
    silhouette_sample: int,
    dbscan_sample: int,
    agglomerative_sample: int,
    threads: int = 1,
) -> Segmentation:
    """Sweep K-means and Ward, choose k for each, form the segments with `algorithm`, name them,
    and run PCA and DBSCAN. `frame` holds the raw features in the rows' order. `threads` caps
    the BLAS/OpenMP threads (oversubscribed threads on a busy machine are 10-30x slower)."""
    from threadpoolctl import threadpool_limits

    if algorithm not in ALGORITHMS:
        raise SegmentationError(f"unknown algorithm {algorithm!r}: expected one of {ALGORITHMS}")
    with threadpool_limits(limits=threads):
        seconds = {}
        started = time.monotonic()
        km_metrics, km_models = sweep_kmeans(x, ks, seed, minibatch_above, silhouette_sample)
        km_choice = choose_k(km_metrics)
        seconds["kmeans_sweep"] = time.monotonic() - started

        started = time.monotonic()
        ward_metrics, ward_labels = sweep_ward(x, ks, seed, agglomerative_sample, silhouette_sample)
        log.info("ward metrics:")
        ward_choice = choose_k(ward_metrics)
        seconds["ward_sweep"] = time.monotonic() - started

        kmeans_labels = km_models[km_choice.k].labels_.astype(np.int64)
        if algorithm == "kmeans":
            choice, labels = km_choice, kmeans_labels
        else:
            choice, labels = ward_choice, ward_labels[ward_choice.k]
        ids = stable_segment_ids(labels, frame[value_column].astype("float64").to_numpy())
        segment_ids = np.array([ids[int(v)] for v in labels], dtype=np.int64)
        centroids = np.vstack([x[segment_ids == s].mean(axis=0) for s in range(1, len(ids) + 1)])
        names = name_segments(naming_profile(frame, segment_ids, naming_features), PROTOTYPES[population])

        started = time.monotonic()
        coords, explained, pca = pca_2d(x, seed)
        seconds["pca"] = time.monotonic() - started
        started = time.monotonic()
        db = dbscan_outliers(x, seed, dbscan_sample, silhouette_sample)
        seconds["dbscan"] = time.monotonic() - started

        db_row = pd.DataFrame(
            [
                {
                    "algorithm": "dbscan",
                    "k": db.n_clusters,
                    "inertia": None,
                    "silhouette": db.silhouette,
                    "davies_bouldin": None,
                    "calinski_harabasz": None,
                    "is_elbow": False,
                    "is_best_silhouette": False,
                    "is_chosen": False,
                    "noise_share": db.noise_share,
                    "eps": db.eps,
                    "min_samples": db.min_samples,
                    "fitted_on": db.fitted_on,
                }
            ]
        )
        metrics = pd.concat(
            [
                mark_choice(km_metrics, km_choice, algorithm == "kmeans"),
                mark_choice(ward_metrics, ward_choice, algorithm == "agglomerative"),
                db_row,
            ],
            ignore_index=True,
        )
        for column in ("noise_share", "eps", "min_samples"):
            metrics[column] = metrics[column] if column in metrics else None
        return Segmentation(
            algorithm=algorithm,
            choice=choice,
            metrics=metrics,
            kmeans_choice=km_choice,
            kmeans_model=km_models[km_choice.k],
            kmeans_labels=kmeans_labels,
            segment_ids=segment_ids,
            segment_names=names,
            centroids=centroids,
            pca_coords=coords,
            pca_explained=explained,
            pca_model=pca,
            dbscan=db,
            seconds=seconds,
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
