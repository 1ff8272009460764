"""Plots of a segmentation run (matplotlib, Agg backend: no display needed), written as PNG.

- `elbow_silhouette.png`: inertia (elbow) and silhouette per k, K-means and Ward, with the elbow
  and the chosen k marked.
- `k_distance.png`: the sorted k-distance curve DBSCAN's eps is read from, eps marked.
- `pca_scatter.png`: customers on the first two principal components, coloured by segment,
  DBSCAN outliers ringed in black (at most 20,000 points drawn, a fixed sample).
- `profile_heatmap.png`: segments x features, the mean scaled value of each feature.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

SCATTER_POINTS = 20_000


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, out: Path) -> Path:
    """Lay the figure out, write it to `out` (PNG, 110 dpi), free it; returns `out`."""
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def elbow_silhouette(metrics: pd.DataFrame, out: Path, title: str) -> Path:
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for algorithm, style in (("kmeans", "-o"), ("agglomerative", "--s")):
        part = metrics[metrics["algorithm"] == algorithm].sort_values("k")
        if part.empty:
            continue
        ax1.plot(part["k"], part["inertia"], style, label=algorithm)
        ax2.plot(part["k"], part["silhouette"].astype(float), style, label=algorithm)
        for ax, column in ((ax1, "inertia"), (ax2, "silhouette")):
            elbow = part[part["is_elbow"]]
            ax.scatter(elbow["k"], elbow[column].astype(float), s=160, facecolors="none", edgecolors="black")
            chosen = part[part["is_chosen"]]
            ax.scatter(chosen["k"], chosen[column].astype(float), s=90, marker="*", color="red", zorder=3)
    ax1.set(title="Elbow: inertia per k (circle = elbow, star = chosen)", xlabel="k", ylabel="inertia")
    ax2.set(title="Silhouette per k (higher = better separated)", xlabel="k", ylabel="silhouette")
    for ax in (ax1, ax2):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _save(plt, fig, out)


def k_distance(distances: np.ndarray, eps: float, min_samples: int, out: Path, title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(np.arange(len(distances)), distances, lw=1.2)
    ax.axhline(eps, color="red", ls="--", label=f"eps = {eps:.3f} (knee)")
    ax.set(
        title=f"k-distance curve (k = min_samples = {min_samples})",
        xlabel="customers, sorted",
        ylabel=f"distance to neighbour {min_samples}",
    )
    ax.legend()
    ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _save(plt, fig, out)


def pca_scatter(
    coords: np.ndarray,
    segment_ids: np.ndarray,
    names: dict[int, str],
    is_outlier: np.ndarray,
    explained: np.ndarray,
    out: Path,
    title: str,
    seed: int,
) -> Path:
    plt = _pyplot()
    from include.ml.segmentation import sample_indices

    pick = sample_indices(len(coords), SCATTER_POINTS, seed)
    fig, ax = plt.subplots(figsize=(8, 6))
    cmap = plt.get_cmap("tab10")
    for i, segment in enumerate(sorted(names)):
        rows = pick[segment_ids[pick] == segment]  # outliers too: a segment may be mostly outliers
        ax.scatter(
            coords[rows, 0],
            coords[rows, 1],
            s=np.where(is_outlier[rows], 24, 6),
            alpha=0.6,
            color=cmap(i % 10),
            label=f"{segment} {names[segment]}",
        )
    rows = pick[is_outlier[pick]]
    ax.scatter(
        coords[rows, 0],
        coords[rows, 1],
        s=40,
        marker="o",
        facecolors="none",
        edgecolors="black",
        linewidths=0.6,
        alpha=0.7,
        label="DBSCAN outlier (ringed)",
    )
    ax.set(
        xlabel=f"PC1 ({explained[0]:.0%} of variance)",
        ylabel=f"PC2 ({explained[1]:.0%} of variance)",
        title=title,
    )
    legend = ax.legend(fontsize=8)
    for handle in legend.legend_handles:  # one marker size in the legend, whatever the first point
        handle.set_sizes([40])
    ax.grid(alpha=0.3)
    return _save(plt, fig, out)


def profile_heatmap(
    centroids: np.ndarray, features: list[str], names: dict[int, str], out: Path, title: str
) -> Path:
    """`centroids` row i = segment i + 1, in scaled units (0 = the average customer)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(features), 1.2 + 0.55 * len(centroids)))
    limit = min(3.0, max(1.0, float(np.abs(centroids).max())))  # colours saturate at +-3; numbers stay exact
    image = ax.imshow(centroids, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(features)), features, rotation=45, ha="right")
    ax.set_yticks(range(len(centroids)), [f"{s} {names[s]}" for s in sorted(names)])
    for (r, c), value in np.ndenumerate(centroids):
        ax.text(c, r, f"{value:.1f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, label="mean scaled value")
    ax.set_title(title)
    return _save(plt, fig, out)


def plot_all(seg, features: list[str], out_dir: Path, population: str, seed: int) -> dict[str, str]:
    """Every plot of a Segmentation; returns name -> path (each path is logged)."""
    title = f"{population}: {seg.algorithm}, k = {seg.choice.k}"
    is_outlier = seg.dbscan.labels == -1
    paths = {
        "elbow_silhouette": elbow_silhouette(seg.metrics, out_dir / "elbow_silhouette.png", title),
        "k_distance": k_distance(
            seg.dbscan.k_distances, seg.dbscan.eps, seg.dbscan.min_samples, out_dir / "k_distance.png", title
        ),
        "pca_scatter": pca_scatter(
            seg.pca_coords,
            seg.segment_ids,
            seg.segment_names,
            is_outlier,
            seg.pca_explained,
            out_dir / "pca_scatter.png",
            title,
            seed,
        ),
        "profile_heatmap": profile_heatmap(
            seg.centroids, features, seg.segment_names, out_dir / "profile_heatmap.png", title
        ),
    }
    for name, path in paths.items():
        log.info("plot %s: %s", name, path)
    return {name: str(path) for name, path in paths.items()}
