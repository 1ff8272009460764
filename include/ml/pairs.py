"""Frequently bought together: product pairs on the same invoices (support, confidence, lift).

Counted with one sparse product: B is the invoices x products incidence matrix of the products
at or above the minimum support (a pair is never more frequent than either product: the
a-priori cut), B^T B counts the invoices of every pair. The work is the sum over invoices of
their frequent products squared, done in compiled code; the result holds only pairs that met
on an invoice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

COLUMNS = [
    "product_id",
    "other_product_id",
    "invoices",
    "support",
    "confidence",
    "lift",
    "product_invoices",
    "other_product_invoices",
    "total_invoices",
]


def _factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, -1 for a missing value; the values the codes point to): a categorical
    column by its own codes (no Python string per row), any other by pandas' factorisation."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories.to_numpy()
    return pd.factorize(values.to_numpy())


def product_pairs(invoice_no: pd.Series, product_id: pd.Series, min_support: float) -> pd.DataFrame:
    """Ordered pairs (both directions) of products on at least min_support of all invoices.

    invoice_no, product_id: one row per invoice line (duplicates allowed). Lines are
    de-duplicated on integer codes (one int64 key per line): 24 million invoice lines cost a
    few hundred MB, not a frame of Python strings."""
    inv_codes, _ = _factorize(invoice_no)
    prod_codes, products = _factorize(product_id)
    present = (inv_codes >= 0) & (prod_codes >= 0)
    key = np.unique(inv_codes[present].astype(np.int64) * max(len(products), 1) + prod_codes[present])
    inv_codes, prod_codes = np.divmod(key, max(len(products), 1))
    del key
    if len(inv_codes) == 0:
        return pd.DataFrame(columns=COLUMNS)
    inv_codes = np.cumsum(np.diff(inv_codes, prepend=-1) != 0) - 1  # sorted: 0 .. invoices - 1
    total = int(inv_codes[-1]) + 1
    per_product = np.bincount(prod_codes, minlength=len(products))
    threshold = min_support * total
    frequent = np.flatnonzero(per_product >= threshold)
    keep = np.isin(prod_codes, frequent)
    position = np.full(len(products), -1)
    position[frequent] = np.arange(len(frequent))
    incidence = sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.int64), (inv_codes[keep], position[prod_codes[keep]])),
        shape=(total, len(frequent)),
    )
    together = sparse.triu(incidence.T @ incidence, k=1).tocoo()
    ok = together.data >= threshold
    a, b, count = together.row[ok], together.col[ok], together.data[ok].astype(np.int64)
    first = np.concatenate([a, b])
    second = np.concatenate([b, a])
    both = np.concatenate([count, count])
    pid = np.asarray(products)[frequent]
    n_first, n_second = per_product[frequent][first], per_product[frequent][second]
    frame = pd.DataFrame(
        {
            "product_id": pid[first],
            "other_product_id": pid[second],
            "invoices": both,
            "support": both / total,
            "confidence": both / n_first,
            "lift": both * total / (n_first.astype(np.float64) * n_second),
            "product_invoices": n_first,
            "other_product_invoices": n_second,
            "total_invoices": total,
        }
    )
    return frame.sort_values(["product_id", "other_product_id"], ignore_index=True)
