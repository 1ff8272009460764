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


def product_pairs(invoice_no: pd.Series, product_id: pd.Series, min_support: float) -> pd.DataFrame:
    """Ordered pairs (both directions) of products on at least min_support of all invoices.

    invoice_no, product_id: one row per invoice line (duplicates allowed)."""
    lines = pd.DataFrame(
        {"invoice_no": invoice_no.to_numpy(), "product_id": product_id.to_numpy()}
    ).drop_duplicates()
    inv_codes, invoices = pd.factorize(lines["invoice_no"], sort=True)
    prod_codes, products = pd.factorize(lines["product_id"], sort=True)
    total = len(invoices)
    if total == 0:
        return pd.DataFrame(columns=COLUMNS)
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
