"""A segmentation run's models on disk, and scoring new customers with them.

`save_models` writes, under `.local/runs/<run_id>/segmentation/<population>/`, the preprocessor
(fill + log + StandardScaler), PCA, K-means and the segment centroids with joblib, beside a
`manifest.json` of parameters and library versions. `score_new` loads them (once per run folder)
and assigns new customers to the run's segments.
"""

from __future__ import annotations

import json
import logging
import platform
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from include import config
from include.ml.features import Population, population

log = logging.getLogger(__name__)

LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy", "joblib", "threadpoolctl")


def model_dir(run_id: str, population_name: str) -> Path:
    from include.quality.validate import run_scoped_dir

    return run_scoped_dir(run_id, "segmentation", population_name)


def save_models(out: Path, run_id: str, spec: Population, preprocessor, seg, as_of) -> Path:
    """preprocessor.joblib (fill + log + StandardScaler), pca.joblib, kmeans.joblib,
    segments.joblib (centroids, K-means label -> segment id, names) and manifest.json."""
    import joblib

    kmeans_to_segment = {}
    if seg.algorithm == "kmeans":
        kmeans_to_segment = {int(k): int(s) for k, s in zip(seg.kmeans_labels, seg.segment_ids, strict=True)}
    files = {
        "preprocessor": ("preprocessor.joblib", preprocessor),
        "pca": ("pca.joblib", seg.pca_model),
        "kmeans": ("kmeans.joblib", seg.kmeans_model),
        "segments": (
            "segments.joblib",
            {
                "centroids": seg.centroids,
                "segment_names": seg.segment_names,
                "kmeans_to_segment": kmeans_to_segment,
            },
        ),
    }
    for name, obj in files.values():
        joblib.dump(obj, out / name)
    manifest = {
        "run_id": run_id,
        "population": spec.name,
        "as_of_date": str(as_of),
        "algorithm": seg.algorithm,
        "features": list(spec.model_features),
        "log_features": list(spec.log_features),
        "chosen_k": seg.choice.k,
        "elbow_k": seg.choice.elbow_k,
        "best_silhouette_k": seg.choice.best_silhouette_k,
        "k_rule": seg.choice.rule,
        "kmeans_k": seg.kmeans_choice.k,
        "segment_names": {str(k): v for k, v in seg.segment_names.items()},
        "pca_explained_variance": [float(v) for v in seg.pca_explained],
        "dbscan": {
            "eps": seg.dbscan.eps,
            "min_samples": seg.dbscan.min_samples,
            "clusters": seg.dbscan.n_clusters,
            "noise_share": seg.dbscan.noise_share,
        },
        "settings": {
            "SEED": config.SEED,
            "MINIBATCH_ABOVE": config.MINIBATCH_ABOVE,
            "SILHOUETTE_SAMPLE": config.SILHOUETTE_SAMPLE,
            "DBSCAN_SAMPLE": config.DBSCAN_SAMPLE,
            "AGGLOMERATIVE_SAMPLE": config.AGGLOMERATIVE_SAMPLE,
        },
        "kmeans_class": type(seg.kmeans_model).__name__,
        "files": {key: name for key, (name, _) in files.items()},
        "versions": {"python": platform.python_version(), **{lib: version(lib) for lib in LIBRARIES}},
        "seconds": {k: round(v, 3) for k, v in seg.seconds.items()},
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    log.info("models and manifest: %s", path)
    return path


@lru_cache(maxsize=8)
def _load(folder: str, manifest_mtime_ns: int) -> tuple:
    """The run folder's manifest and models, loaded once per folder (and manifest version): a run
    folder is written once, by its segmentation run."""
    import joblib

    manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    return manifest, *(
        joblib.load(Path(folder) / files[k]) for k in ("preprocessor", "kmeans", "pca", "segments")
    )


def load_models(model_folder: str | Path) -> tuple:
    """(manifest, preprocessor, kmeans, pca, segments) of a saved run, cached."""
    folder = Path(model_folder).resolve()
    return _load(str(folder), (folder / "manifest.json").stat().st_mtime_ns)


def score_new(model_folder: str | Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Assign customers (rows with the population's feature columns) to the segments of a saved
    run: customer_id, segment_id, segment_name, kmeans_cluster, pca_x, pca_y."""
    from include.ml.features import numeric_columns
    from include.ml.segmentation import nearest_centroid_labels

    manifest, preprocessor, kmeans, pca, segments = load_models(model_folder)
    spec = population(manifest["population"])
    x = preprocessor.transform(numeric_columns(frame, spec))
    kmeans_labels = kmeans.predict(x)
    if segments["kmeans_to_segment"]:
        segment_ids = np.array([segments["kmeans_to_segment"][int(k)] for k in kmeans_labels])
    else:
        segment_ids = nearest_centroid_labels(x, segments["centroids"]) + 1
    coords = pca.transform(x)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "segment_id": segment_ids,
            "segment_name": [segments["segment_names"][int(s)] for s in segment_ids],
            "kmeans_cluster": kmeans_labels,
            "pca_x": coords[:, 0],
            "pca_y": coords[:, 1],
        }
    )
