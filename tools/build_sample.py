"""Build the shipped demo sample from the full Kaggle download (run once; the output is committed).

    python -m tools.build_sample ../shared/datasets/ecommerce-data.zip

Whole histories of a seeded random subset of customers (all their lines, cancellations
included), plus the lines of a few guest invoices, in the original order, bytes and encoding, so
segmentation and the time-split evaluation stay meaningful. The Kaggle layout (one `data.csv`
in a zip, ISO-8859-1) is kept.
"""

from __future__ import annotations

import csv
import io
import random
import sys
import zipfile
from pathlib import Path

from include import config

CUSTOMERS = 600
GUEST_INVOICE_SHARE = 0.03
SEED = 20101201
OUT = config.SAMPLE_SOURCE  # include/sample/online_retail_sample.zip


def build(full_zip: Path, out: Path = OUT) -> tuple[int, int]:
    with zipfile.ZipFile(full_zip) as zf:
        lines = zf.read("data.csv").split(b"\n")
    header, body = lines[0], [line for line in lines[1:] if line]
    rows = list(csv.reader(io.StringIO(b"\n".join(body).decode("latin-1"))))
    assert len(rows) == len(body), "the source has multi-line records: filter by parsed rows"
    rng = random.Random(SEED)
    customers = sorted({r[6] for r in rows if r[6]})
    keep_customers = set(rng.sample(customers, CUSTOMERS))
    guest_invoices = sorted({r[0] for r in rows if not r[6]})
    keep_guests = set(rng.sample(guest_invoices, int(len(guest_invoices) * GUEST_INVOICE_SHARE)))
    kept = [line for line, r in zip(body, rows, strict=True) if r[6] in keep_customers or r[0] in keep_guests]
    data = b"\n".join([header, *kept]) + b"\n"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("data.csv", data)
    return len(kept), len(keep_customers)


if __name__ == "__main__":
    n_rows, n_customers = build(Path(sys.argv[1]))
    print(f"{OUT}: {n_rows} rows, {n_customers} customers, {OUT.stat().st_size} bytes")
