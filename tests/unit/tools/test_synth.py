"""The synthetic shop generator (tools/synth): a sample's distributions against the real file,
same seed -> same bytes, and the file is what the pipeline's layout detection calls
`online_retail`.

The sample is 0.2 x the real shop (about 110,000 lines, 870 customers: a second to make). The
figures are measured here, independently of the generator's code, on the sample and on the real
file (../shared/datasets); without the real file, against the figures the shipped profile
recorded from it. Tolerances, set from 8 seeds at this size (worst seen in brackets) plus a margin:

- shares of lines - cancellations, guests, non-product codes, duplicates: within 25 % of the
  real share (worst seen 21 %);
- month, weekday, hour of the invoices: total variation distance <= 0.03, 0.035, 0.04 (0.019,
  0.023, 0.029); of the lines <= 0.09, 0.05, 0.07 (0.069, 0.032, 0.051: a few web orders of
  500-1,100 lines move the line shares of a month or an hour, in the real file too);
- lines per invoice: the 25/50/75/90 % quantiles within 25 % or 2 lines (17 %);
- share of customers who bought the most popular product, and the mean over the top 10:
  within 25 % (12 %, 10 %);
- country of the customers: total variation distance <= 0.05 (0.038);
- orders per customer (mean): within 20 % (9 %); unit price and quantity of the sales
  (geometric means; their medians jump between the few price points): within 10 % (3 %).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from include.ingest.layouts import ONLINE_RETAIL, match_header
from include.ingest.loader import open_data_file, read_header
from tools.synth import DEFAULT_PROFILE, generate, load_profile

pytestmark = pytest.mark.unit

REAL_FILE = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "ecommerce-data.zip"
SCALE = 0.2
SEED = 7


def measure(path: Path) -> dict:
    """Headline figures of an Online Retail file, computed from its text with pandas."""
    df = pd.read_csv(path, encoding="iso-8859-1", dtype=str, keep_default_na=False)
    n = len(df)
    at = pd.to_datetime(df.InvoiceDate, format="%m/%d/%Y %H:%M")
    quantity = pd.to_numeric(df.Quantity)
    price = pd.to_numeric(df.UnitPrice)
    code = df.StockCode.str.strip().str.upper()
    is_cancel = df.InvoiceNo.str.startswith("C")
    is_guest = df.CustomerID.str.strip() == ""
    is_product = code.str.match(r"^([0-9]{5}|DCGS)")  # the cleaning's non_product_code rule
    sale = df[~is_cancel & ~is_guest & is_product & (quantity > 0) & (price > 0)]
    sale_code = code[sale.index]
    buyers = sale.groupby(sale_code).CustomerID.nunique().sort_values(ascending=False)
    customers = sale.CustomerID.nunique()
    per_invoice = df.groupby("InvoiceNo").size()
    invoice_at = at.groupby(df.InvoiceNo).first()
    return {
        "invoice_month_share": np.bincount(invoice_at.dt.month - 1, minlength=12) / len(invoice_at),
        "invoice_weekday_share": np.bincount(invoice_at.dt.dayofweek, minlength=7) / len(invoice_at),
        "invoice_hour_share": np.bincount(invoice_at.dt.hour, minlength=24) / len(invoice_at),
        "cancel_line_share": is_cancel.mean(),
        "guest_line_share": is_guest.mean(),
        "non_product_line_share": (~is_product).mean(),
        "duplicate_line_share": df.duplicated().mean(),
        "month_share": np.bincount(at.dt.month - 1, minlength=12) / n,
        "weekday_share": np.bincount(at.dt.dayofweek, minlength=7) / n,
        "hour_share": np.bincount(at.dt.hour, minlength=24) / n,
        "lines_per_invoice_quantiles": {q: float(per_invoice.quantile(q)) for q in (0.25, 0.5, 0.75, 0.9)},
        "top_product_customer_share": buyers.iloc[0] / customers,
        "top10_product_customer_share": buyers.iloc[:10].mean() / customers,
        "orders_per_customer_mean": sale.groupby("CustomerID").InvoiceNo.nunique().mean(),
        "unit_price_geomean": float(np.exp(np.log(price[sale.index]).mean())),
        "quantity_geomean": float(np.exp(np.log(quantity[sale.index]).mean())),
        "country_share": sale.drop_duplicates("CustomerID").Country.value_counts(normalize=True).to_dict(),
    }


def from_profile_summary(summary: dict) -> dict:
    """The same figures as the fit recorded them from the real file (when it is absent here)."""
    out = dict(summary)
    for key in (
        "month_share",
        "weekday_share",
        "hour_share",
        "invoice_month_share",
        "invoice_weekday_share",
        "invoice_hour_share",
    ):
        out[key] = np.asarray(summary[key])
    out["lines_per_invoice_quantiles"] = {
        float(k): v for k, v in summary["lines_per_invoice_quantiles"].items()
    }
    return out


def tvd(a, b) -> float:
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())


def country_tvd(a: dict, b: dict) -> float:
    keys = set(a) | set(b)
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in keys)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "sample.csv"
    generate.generate(load_profile(), generate.Options(scale=SCALE, seed=SEED, out=out))
    return out


@pytest.fixture(scope="module")
def real() -> dict:
    if REAL_FILE.exists():
        return measure(REAL_FILE)
    return from_profile_summary(load_profile()["summary"])


def close(value: float, target: float, rel: float, abs_tol: float = 0.0) -> bool:
    return abs(value - target) <= max(rel * abs(target), abs_tol)


def test_the_sample_follows_the_real_distributions(sample, real):
    got = measure(sample)
    problems = []
    for key in ("cancel_line_share", "guest_line_share", "non_product_line_share", "duplicate_line_share"):
        if not close(got[key], real[key], 0.25):
            problems.append(f"{key}: {got[key]:.4f} vs real {real[key]:.4f}")
    limits = {
        "invoice_month_share": 0.03,
        "invoice_weekday_share": 0.035,
        "invoice_hour_share": 0.04,
        "month_share": 0.09,
        "weekday_share": 0.05,
        "hour_share": 0.07,
    }
    for key, limit in limits.items():
        if (d := tvd(got[key], real[key])) > limit:
            problems.append(f"{key}: total variation {d:.3f} > {limit}")
    for q, target in real["lines_per_invoice_quantiles"].items():
        value = got["lines_per_invoice_quantiles"][q]
        if not close(value, target, 0.25, 2.0):
            problems.append(f"lines per invoice, quantile {q}: {value} vs real {target}")
    for key in ("top_product_customer_share", "top10_product_customer_share"):
        if not close(got[key], real[key], 0.25):
            problems.append(f"{key}: {got[key]:.3f} vs real {real[key]:.3f}")
    for key, rel in (
        ("orders_per_customer_mean", 0.20),
        ("unit_price_geomean", 0.10),
        ("quantity_geomean", 0.10),
    ):
        if not close(got[key], real[key], rel):
            problems.append(f"{key}: {got[key]:.3f} vs real {real[key]:.3f}")
    if (d := country_tvd(got["country_share"], real["country_share"])) > 0.05:
        problems.append(f"country_share: total variation {d:.3f} > 0.05")
    assert not problems, "the synthetic sample is off the real file:\n" + "\n".join(problems)


def test_the_generator_is_off_when_the_profile_is_wrong(tmp_path, real):
    """The comparison can fail: a profile with 5x the cancellations gives a sample it rejects."""
    profile = load_profile()
    a, b = profile["cancellations"]["beta_binomial"]
    profile["cancellations"]["beta_binomial"] = [a * 20, b]
    out = tmp_path / "wrong.csv"
    generate.generate(profile, generate.Options(scale=0.05, seed=SEED, out=out))
    got = measure(out)
    assert not close(got["cancel_line_share"], real["cancel_line_share"], 0.25)


def test_same_seed_same_bytes_whatever_the_chunk_size(tmp_path, sample):
    profile = load_profile()
    again = tmp_path / "again.csv"
    generate.generate(profile, generate.Options(scale=SCALE, seed=SEED, out=again, chunk_lines=7_919))
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(sample.read_bytes()).digest()
    other = tmp_path / "other.csv"
    generate.generate(profile, generate.Options(scale=0.05, seed=SEED + 1, out=other))
    small = tmp_path / "small.csv"
    generate.generate(profile, generate.Options(scale=0.05, seed=SEED, out=small))
    assert other.read_bytes() != small.read_bytes()


def test_the_file_is_detected_as_online_retail(sample, tmp_path):
    with open_data_file(sample) as (label, stream):
        header = read_header(stream, label).header
    match = match_header(header, label)
    assert match.layout is ONLINE_RETAIL and match.is_exact
    # the zip flavour holds data.csv, as the Kaggle download does
    out = tmp_path / "sample.zip"
    generate.generate(load_profile(), generate.Options(scale=0.02, seed=SEED, out=out))
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["data.csv"]
        text = zf.read("data.csv").decode("iso-8859-1")
    first = text.splitlines()[0]
    assert match_header(first, str(out)).layout is ONLINE_RETAIL
    # every line has the 8 fields and the layout's date format
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert list(df.columns) == list(ONLINE_RETAIL.source_columns)
    pd.to_datetime(df.InvoiceDate, format="%m/%d/%Y %H:%M")
    assert df.InvoiceNo.str.match(r"^[CA]?[0-9]{6,7}$").all()


def test_more_products_keep_a_long_tail_and_real_words(tmp_path):
    """A catalogue of 3x the real one: new products get descriptions made of real words, and the
    most popular product is still bought by more than 8 % of customers."""
    profile = load_profile()
    real_words = {w for d in profile["catalogue"]["descriptions"] for w in d.split()}
    out = tmp_path / "wide.csv"
    n_real = len(profile["catalogue"]["codes"])
    generate.generate(profile, generate.Options(scale=0.1, products=3 * n_real, seed=SEED, out=out))
    df = pd.read_csv(out, encoding="iso-8859-1", dtype=str, keep_default_na=False)
    sale = df[~df.InvoiceNo.str.startswith("C") & (df.CustomerID != "") & (pd.to_numeric(df.UnitPrice) > 0)]
    new = sale[~sale.StockCode.isin(profile["catalogue"]["codes"]) & sale.StockCode.str.match(r"^[0-9]{5}")]
    assert new.StockCode.nunique() > n_real // 2
    descriptions = new.groupby("StockCode").Description.first()
    assert descriptions.is_unique  # one product, one description; none is a real product's
    assert not set(descriptions) & set(profile["catalogue"]["descriptions"])
    assert {w for d in descriptions for w in d.split()} <= real_words
    top = sale.groupby("StockCode").CustomerID.nunique().max() / sale.CustomerID.nunique()
    assert top > 0.08


def test_shipped_profile_is_small():
    assert DEFAULT_PROFILE.stat().st_size < 400_000
