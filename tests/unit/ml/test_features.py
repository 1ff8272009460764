"""The feature preprocessing (fill, log1p, StandardScaler) on hand-made frames (the feature SQL:
tests/integration/test_features.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from include.ml import features as F

pytestmark = pytest.mark.unit


def _frame(**columns) -> pd.DataFrame:
    base = {c: [1.0, 1.0, 1.0, 1.0] for c in F.TRANSACTIONS.model_features}
    base.update(columns)
    return pd.DataFrame(base)


def test_preprocessing_logs_then_scales():
    # frequency 1, 3, 7, 15: log1p = ln2 x (1, 2, 3, 4); standardised: (i - 2.5) / sqrt(1.25)
    frame = _frame(frequency=[1.0, 3.0, 7.0, 15.0], tenure_days=[1.0, 2.0, 3.0, 4.0])
    x = F.FeaturePreprocessor(F.TRANSACTIONS).fit_transform(frame)
    col = F.TRANSACTIONS.model_features.index("frequency")
    expected = (np.arange(1, 5) - 2.5) / math.sqrt(1.25)
    assert x[:, col] == pytest.approx(expected)
    # tenure_days is not logged: linear values standardise to the same -1.342 .. 1.342
    assert x[:, F.TRANSACTIONS.model_features.index("tenure_days")] == pytest.approx(expected)
    # constant columns scale to 0, every column has mean 0
    assert x.mean(axis=0) == pytest.approx(np.zeros(x.shape[1]))


def test_one_invoice_gap_is_filled_from_tenure():
    frame = _frame(avg_days_between_orders=[np.nan, 10.0, 10.0, np.nan], tenure_days=[10.0, 5.0, 5.0, 10.0])
    x = F.FeaturePreprocessor(F.TRANSACTIONS).fit_transform(frame)
    col = F.TRANSACTIONS.model_features.index("avg_days_between_orders")
    assert np.all(x[:, col] == x[0, col])  # all four become 10 days: one constant column


def test_missing_income_gets_the_median_and_log_needs_non_negative_values():
    frame = pd.DataFrame({c: [1.0, 2.0, 3.0] for c in F.PROFILES.model_features})
    frame["income"] = [10_000.0, np.nan, 40_000.0]
    pre = F.FeaturePreprocessor(F.PROFILES).fit(frame)
    assert pre.medians_["income"] == 25_000.0
    assert not np.isnan(pre.transform(frame)).any()
    bad = _frame(frequency=[1.0, -1.0, 1.0, 1.0])
    with pytest.raises(F.FeatureError, match="frequency has negative values"):
        F.FeaturePreprocessor(F.TRANSACTIONS).fit(bad)
    with pytest.raises(F.FeatureError, match="lack column"):
        F.FeaturePreprocessor(F.TRANSACTIONS).fit(pd.DataFrame({"frequency": [1.0]}))


def test_signed_log1p():
    assert F.signed_log1p(np.array([math.e - 1, 0.0, -(math.e - 1)])) == pytest.approx([1.0, 0.0, -1.0])


def test_unknown_population_is_named():
    with pytest.raises(F.FeatureError, match="unknown population 'shops'"):
        F.population("shops")
