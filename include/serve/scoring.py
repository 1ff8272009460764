"""A new customer's segment, from the published segmentation run's saved models.

The one place the serving code reaches into the segmentation code: `save_models` / `score_new`
(the run folder's joblib files and manifest.json) are the contract between the two.
"""

from __future__ import annotations

from pathlib import Path

from include.ml.segment_models import score_new


def score(model_dir: Path, features: dict) -> dict:
    """{segment_id, segment_name, kmeans_cluster, pca_x, pca_y} of one customer's features (the
    columns of the transactions population's ml.customer_features)."""
    import pandas as pd

    scored = score_new(model_dir, pd.DataFrame([{"customer_id": 0, **features}])).iloc[0]
    return {
        "segment_id": int(scored["segment_id"]),
        "segment_name": str(scored["segment_name"]),
        "kmeans_cluster": int(scored["kmeans_cluster"]),
        "pca_x": float(scored["pca_x"]),
        "pca_y": float(scored["pca_y"]),
    }
