"""Fit the generator's profile from a real Online Retail file (data.csv or the Kaggle zip).

    .venv/bin/python -m tools.synth fit ../shared/datasets/ecommerce-data.zip \
        --out tools/synth/profile_online_retail.json

The profile is small (a few hundred KB): distributions, rates and the product catalogue
(stock code, canonical description, base price, popularity, topic), never customers' rows.
`summary` holds the headline figures of the real file that the test compares samples with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from include.ingest.layouts import ONLINE_RETAIL
from tools.synth import model

log = logging.getLogger(__name__)

PRODUCT_CODE = re.compile(r"^([0-9]{5}|DCGS)")  # sql/staging/classified_lines.sql: non_product_code
UK = "United Kingdom"
N_TOPICS = 40
ORDER_BUCKETS = (1, 2, 3, 4, 6, 10, 20, 50)  # lower bounds of the buckets of orders per customer
SPAN_BINS = 20
PRICE_BANDS = 5
PRODUCT_KINDS = ("customer_sale", "guest_sale", "customer_cancel", "guest_cancel")
KINDS = (*PRODUCT_KINDS, "adjustment", "fee")


def read_real(path: Path) -> pd.DataFrame:
    """The real file as text columns plus parsed ones (one row per line, in file order)."""
    df = pd.read_csv(path, encoding="iso-8859-1", dtype=str, keep_default_na=False)
    expected = list(ONLINE_RETAIL.source_columns)
    if list(df.columns) != expected:
        raise ValueError(f"{path}: header {list(df.columns)} is not the Online Retail layout {expected}")
    out = pd.DataFrame(
        {
            "invoice": df.InvoiceNo.str.strip(),
            "code": df.StockCode.str.strip().str.upper(),
            "description": df.Description,
            "quantity": pd.to_numeric(df.Quantity).astype(np.int64),
            "price": pd.to_numeric(df.UnitPrice),
            "customer": df.CustomerID.str.strip(),
            "country": df.Country,
            "at": pd.to_datetime(df.InvoiceDate, format="%m/%d/%Y %H:%M"),
        }
    )
    out["is_cancel"] = out.invoice.str.startswith("C")
    out["is_guest"] = out.customer == ""
    out["is_product"] = out.code.str.match(PRODUCT_CODE.pattern)
    out["is_duplicate"] = df.duplicated()
    out["cents"] = np.round(out.price * 100).astype(np.int64)
    return out


def invoice_kinds(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per invoice with its kind: customer_sale, guest_sale, adjustment (a guest line
    of a product with quantity or price <= 0: stock corrections), fee (no product line),
    customer_cancel, guest_cancel."""
    bad = ~lines.is_cancel & ((lines.quantity <= 0) | (lines.price <= 0)) & lines.is_product
    inv = (
        lines.assign(bad=bad, product=lines.is_product & ~lines.is_duplicate)
        .groupby("invoice", sort=False)
        .agg(
            at=("at", "min"),
            customer=("customer", "first"),
            country=("country", "first"),
            is_cancel=("is_cancel", "first"),
            is_guest=("is_guest", "first"),
            lines=("code", "size"),
            product_lines=("product", "sum"),
            bad=("bad", "sum"),
        )
    )
    kind = np.where(
        inv.is_cancel,
        np.where(inv.is_guest, "guest_cancel", "customer_cancel"),
        np.where(inv.is_guest, "guest_sale", "customer_sale"),
    )
    kind = np.where(
        (inv.product_lines > 0) & ~inv.is_cancel & inv.is_guest & (inv.bad >= inv.product_lines),
        "adjustment",
        kind,
    )
    kind = np.where(inv.product_lines == 0, "fee", kind)
    inv["kind"] = kind
    return inv


def fit_calendar(inv: pd.DataFrame, start: dt.date, end: dt.date, closed: list[str] | None = None) -> dict:
    """Month-of-year x weekday intensity (a log-linear fit of invoices per open day), closed
    days (weekdays of the shop without any invoice, unless given), and the hour distribution
    per weekday."""
    days = pd.date_range(start, end, freq="D")
    per_day = inv.groupby(inv["at"].dt.normalize()).size().reindex(days, fill_value=0)
    month = days.month.values - 1
    weekday = days.weekday.values
    weekday_total = np.bincount(weekday, weights=per_day.values, minlength=7)
    if closed is None:
        closed = [
            d.strftime("%m-%d") for d, n in per_day.items() if n == 0 and weekday_total[d.weekday()] > 0
        ]
    is_open = np.array([d.strftime("%m-%d") not in closed for d in days]) & (weekday_total[weekday] > 0)
    counts = np.zeros((12, 7))
    n_open = np.zeros((12, 7))
    np.add.at(counts, (month, weekday), per_day.values)
    np.add.at(n_open, (month, weekday), is_open)
    m_w, d_w = np.ones(12), np.ones(7)
    for _ in range(50):  # iterative proportional fitting of counts ~ open days x M[month] x D[weekday]
        m_w = counts.sum(1) / np.maximum((n_open * d_w).sum(1), 1e-9)
        d_w = counts.sum(0) / np.maximum((n_open * m_w[:, None]).sum(0), 1e-9)
    m_w = np.where(n_open.sum(1) > 0, m_w, np.nanmean(m_w[n_open.sum(1) > 0]))
    hour = np.zeros((7, 24))
    np.add.at(hour, (inv["at"].dt.weekday.values, inv["at"].dt.hour.values), 1)
    hour[hour.sum(1) == 0] = 1  # a weekday never seen (no intensity anyway)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "month_weights": np.round(m_w / m_w.max(), 5).tolist(),
        "weekday_weights": np.round(d_w / d_w.max(), 5).tolist(),
        "closed_days": closed,
        "hour_by_weekday": hour.astype(int).tolist(),
    }


def normal_scores(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Normal scores of values (ties broken at random): the Gaussian copula's scale."""
    from scipy.special import ndtri

    order = np.lexsort((rng.random(len(values)), values))
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return ndtri((ranks + 0.5) / len(values))


def intraclass(z: np.ndarray, group: np.ndarray) -> float:
    """Share of the variance of z between groups (groups of at least two)."""
    s = pd.Series(z)
    g = pd.Series(group)
    size = s.groupby(g).transform("size")
    keep = size >= 2
    within = (s[keep] - s[keep].groupby(g[keep]).transform("mean")) ** 2
    n_groups = g[keep].nunique()
    within_var = within.sum() / max(keep.sum() - n_groups, 1)
    return float(max(0.0, 1.0 - within_var / s[keep].var()))


def fit_schedules(inv: pd.DataFrame, calendar: model.Calendar) -> dict:
    """Orders per customer; the share of same-day follow-up invoices and their delay; per
    bucket of sessions (a customer's first invoice of a day) the (first, last) warped times
    and the burstiness of the gaps between (Dirichlet concentration beta: 1 = even, < 1 =
    bursty)."""
    sales = inv[inv.kind == "customer_sale"]
    day = (sales["at"].dt.normalize() - pd.Timestamp(calendar.start)).dt.days.values
    minute = sales["at"].dt.hour.values * 60 + sales["at"].dt.minute.values
    u = calendar.to_u(day, minute)
    frame = pd.DataFrame(
        {"customer": sales.customer.values, "u": u, "day": day, "minute": day * 1440 + minute}
    )
    frame = frame.sort_values(["customer", "u"])
    invoices_per_customer = frame.groupby("customer").size()
    # a same-day follow-up (another invoice of the customer on the day of their previous one)
    same_customer = frame.customer.eq(frame.customer.shift())
    follow = same_customer & frame.day.eq(frame.day.shift())
    follow_minutes = (frame.minute - frame.minute.shift())[follow]
    follow_share = float(follow.sum() / max(same_customer.sum(), 1))
    frame = frame[~follow]  # sessions: a customer's first invoice of a day
    grouped = frame.groupby("customer").u
    n = grouped.size()
    first, last = grouped.min(), grouped.max()
    buckets = {}
    bounds = [*ORDER_BUCKETS, 10**9]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        members = n.index[(n >= lo) & (n < hi)]
        if len(members) == 0:
            continue
        f = np.minimum((first[members].values * SPAN_BINS).astype(int), SPAN_BINS - 1)
        la = np.minimum((last[members].values * SPAN_BINS).astype(int), SPAN_BINS - 1)
        cells = f * SPAN_BINS + la
        entry = {"customers": int(len(members)), "cells": model.pmf(cells)}
        if lo >= 3:
            sub = frame[frame.customer.isin(members)]
            gaps = sub.groupby("customer").u.diff().dropna()
            cust = sub.customer[gaps.index]
            span = (last - first)[cust].values
            ok = span > 0
            m = n[cust].values - 1
            share = gaps.values[ok] / span[ok]
            dev = pd.Series((share - 1.0 / m[ok]) ** 2).groupby(cust.values[ok]).sum()
            mm = (n[dev.index] - 1).values.astype(float)
            # E[sum (g_i - 1/m)^2] = (1 - 1/m) / (m beta + 1) for Dirichlet(beta, ..., beta) shares
            lo_b, hi_b = 1e-3, 1e3
            for _ in range(60):
                beta = np.sqrt(lo_b * hi_b)
                expected = ((1 - 1 / mm) / (mm * beta + 1)).mean()
                lo_b, hi_b = (beta, hi_b) if expected > dev.mean() else (lo_b, beta)
            entry["gap_beta"] = round(float(beta), 4)
        buckets[str(lo)] = entry
    return {
        "session_u_quantiles": quantiles(frame.u.values, 401),
        "orders": model.pmf(invoices_per_customer.values),
        "follow_up_share": round(follow_share, 5),
        "follow_up_minutes": quantiles(follow_minutes.values),
        "span_bins": SPAN_BINS,
        "buckets": buckets,
    }


def canonical_descriptions(lines: pd.DataFrame) -> pd.Series:
    """The description most of a product's lines use (ties: the most recent, then alphabetical)."""
    d = lines[lines.description.str.strip() != ""]
    g = d.groupby(["code", "description"]).agg(n=("at", "size"), last=("at", "max")).reset_index()
    g = g.sort_values(["code", "n", "last", "description"], ascending=[True, False, False, True])
    return g.drop_duplicates("code").set_index("code").description


def basket_shifts(at: pd.Series, z: np.ndarray) -> dict:
    """Bigger or smaller baskets by month, weekday and hour: the mean normal score of the
    basket size of each (centred; one-way means), added on the copula's scale."""
    frame = pd.DataFrame(
        {
            "z": z - z.mean(),
            "month": at.dt.month.values - 1,
            "weekday": at.dt.dayofweek.values,
            "hour": at.dt.hour.values,
        }
    )
    out = {}
    for name, size in (("month", 12), ("weekday", 7), ("hour", 24)):
        g = frame.groupby(name).z
        means = (g.sum() / (g.size() + 20)).reindex(range(size)).fillna(0.0)  # shrunk towards 0 when rare
        out[name] = np.round(means.values, 4).tolist()
    return out


def fit_topics(sale_lines: pd.DataFrame, codes: pd.Index, seed: int) -> np.ndarray:
    """A topic per product: k-means on the products' co-purchase embeddings (truncated SVD of
    the product x basket matrix; a basket is a customer, or a guest invoice)."""
    from scipy import sparse
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    basket = np.where(sale_lines.is_guest, "g" + sale_lines.invoice, "c" + sale_lines.customer)
    b_codes, b_idx = np.unique(basket, return_inverse=True)
    p_idx = codes.get_indexer(sale_lines.code)
    m = sparse.coo_matrix((np.ones(len(p_idx)), (p_idx, b_idx)), shape=(len(codes), len(b_codes))).tocsr()
    m.data[:] = 1.0
    m = normalize(m)
    emb = TruncatedSVD(n_components=32, random_state=seed).fit_transform(m)
    emb = normalize(emb)
    return KMeans(n_clusters=N_TOPICS, n_init=4, random_state=seed).fit_predict(emb).astype(int)


def fit_alpha(counts: np.ndarray, mass: np.ndarray) -> float:
    """Concentration of the customers' tastes: maximum likelihood of a Dirichlet-multinomial
    with base measure `mass` on the customers' distinct products per topic (rows of counts)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import gammaln

    totals = counts.sum(1)

    def nll(log_alpha: float) -> float:
        a = np.exp(log_alpha)
        am = a * mass
        ll = gammaln(a) - gammaln(a + totals) + (gammaln(am + counts) - gammaln(am)).sum(1)
        return -float(ll.sum())

    res = minimize_scalar(nll, bounds=(np.log(1e-2), np.log(1e4)), method="bounded")
    return float(np.exp(res.x))


def customer_product_stats(person: np.ndarray, invoice: np.ndarray, order: np.ndarray, product: np.ndarray):
    """(mean distinct products / lines per customer, share of a customer's lines after the
    first invoice that buy a product they bought in an earlier invoice). `order` ranks the
    invoices of a person in time."""
    frame = pd.DataFrame({"p": person, "i": invoice, "o": order, "x": product})
    lines = frame.groupby("p").size()
    distinct = frame.groupby("p").x.nunique()
    first_order = frame.groupby(["p", "x"]).o.transform("min")
    person_first = frame.groupby("p").o.transform("min")
    later = frame.o > person_first
    repeat = float((first_order[later] < frame.o[later]).mean())
    return float((distinct / lines).mean()), repeat


def top_reach(person: np.ndarray, product: np.ndarray, top: int = 10) -> float:
    """Mean share of customers buying each of the `top` most bought products."""
    key = np.unique(person.astype(np.int64) * (int(product.max()) + 1) + product)
    buyers = np.bincount(key % (int(product.max()) + 1))
    return float(np.sort(buyers)[::-1][:top].mean() / len(np.unique(person)))


def calibrate_slots(
    seed: int,
    catalogue: model.Catalogue,
    alpha: float,
    invoices: pd.DataFrame,  # customer sale invoices: customer index, order rank, product lines
    target: tuple[float, float, float],
) -> dict:
    """The slot model's slots per line (kappa) and favouritism (gamma), and the taste
    concentration (alpha, around its maximum-likelihood value), by simulating the real
    customers' invoices and matching (distinct products / lines, repeat share, share of
    customers buying each of the 10 most bought products): coordinate descent on grids."""
    n_people = int(invoices.person.max()) + 1
    n = invoices.product_lines.values.astype(np.int64)
    inv_key = np.repeat(np.arange(len(invoices)), n)
    line_no = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    person = np.repeat(invoices.person.values, n)
    order = np.repeat(invoices.order.values, n)
    total = np.bincount(invoices.person.values, weights=n, minlength=n_people)
    tastes = {}

    def simulate(kappa: float, gamma: float, factor: float):
        if factor not in tastes:
            tastes[factor] = model.draw_tastes(
                np.random.default_rng(seed), n_people, catalogue.topic_mass, alpha * factor
            )
        topics, cum = tastes[factor]
        s = np.maximum(np.round(kappa * total[person]).astype(np.int64), 1)
        product = model.draw_person_products(seed, catalogue, topics, cum, inv_key, line_no, person, s, gamma)
        d, r = customer_product_stats(person, inv_key, order, product)
        return d, r, top_reach(person, product)

    def error(stats) -> float:
        return sum(((x - t) / t) ** 2 for x, t in zip(stats, target, strict=True))

    grids = {
        "kappa": (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0),
        "gamma": (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0),
        "factor": (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.75, 1.0, 1.5),
    }
    best = {"kappa": 2.0, "gamma": 1.5, "factor": 1.0}
    best_stats = simulate(**best)
    for _ in range(3):
        for name, grid in grids.items():
            for value in grid:
                trial = {**best, name: value}
                stats = simulate(**trial)
                if error(stats) < error(best_stats):
                    best, best_stats = trial, stats
    d, r, t = best_stats
    log.info(
        "slot model: kappa %.2f gamma %.2f alpha x%.2f -> distinct/lines %.3f (real %.3f), repeat %.3f (real %.3f),"
        " top-10 reach %.3f (real %.3f)",
        best["kappa"],
        best["gamma"],
        best["factor"],
        d,
        target[0],
        r,
        target[1],
        t,
        target[2],
    )
    return {
        "kappa": best["kappa"],
        "gamma": best["gamma"],
        "alpha": round(alpha * best["factor"], 4),
        "alpha_likelihood": round(alpha, 4),
        "simulated_distinct_share": round(d, 4),
        "simulated_repeat_share": round(r, 4),
        "simulated_top10_reach": round(t, 4),
    }


def fit_zipf(weights: np.ndarray) -> dict:
    """Zipf-Mandelbrot with an exponential cut-off, w(r) ~ (r + q)^-a exp(-(r / R)^c), fitted
    on log weights by rank. Descriptive: how Zipf-like the real popularity is (a flat head of
    ~q products, exponent a, a steep tail past R); the generator stretches the empirical curve
    itself (generate.extended_popularity)."""
    from scipy.optimize import least_squares

    w = np.sort(weights)[::-1].astype(np.float64)
    r = np.arange(1, len(w) + 1)
    y = np.log(w / w.sum())

    def resid(x):
        a, log_q, log_r, c, k = x
        return k - a * np.log(r + np.exp(log_q)) - (r / np.exp(log_r)) ** c - y

    x0 = [0.5, np.log(50.0), np.log(len(w) / 2), 1.0, 0.0]
    res = least_squares(resid, x0, bounds=([0.0, 0.0, 0.0, 0.1, -50], [3.0, 10.0, 15.0, 5.0, 50]))
    a, log_q, log_r, c, _ = res.x
    return {
        "a": round(float(a), 4),
        "q": round(float(np.exp(log_q)), 3),
        "cutoff_rank": round(float(np.exp(log_r)), 2),
        "cutoff_power": round(float(c), 4),
        "products": int(len(w)),
    }


def quantiles(values, n: int = 21) -> list[float]:
    return np.round(np.quantile(np.asarray(values, dtype=np.float64), np.linspace(0, 1, n)), 4).tolist()


def summarize(lines: pd.DataFrame) -> dict:
    """Headline figures of a file (real or synthetic): the test compares them."""
    n = len(lines)
    inv = lines.groupby("invoice").size()
    sale = lines[
        ~lines.is_cancel & ~lines.is_guest & lines.is_product & (lines.quantity > 0) & (lines.price > 0)
    ]
    buyers = sale.groupby("code").customer.nunique().sort_values(ascending=False)
    n_customers = sale.customer.nunique()
    per_customer = sale.groupby("customer").invoice.nunique()
    country = sale.drop_duplicates("customer").country.value_counts(normalize=True)
    invoice_at = lines.groupby("invoice")["at"].first()
    return {
        "invoice_month_share": np.round(
            np.bincount(invoice_at.dt.month - 1, minlength=12) / len(inv), 5
        ).tolist(),
        "invoice_weekday_share": np.round(
            np.bincount(invoice_at.dt.dayofweek, minlength=7) / len(inv), 5
        ).tolist(),
        "invoice_hour_share": np.round(np.bincount(invoice_at.dt.hour, minlength=24) / len(inv), 5).tolist(),
        "lines": n,
        "invoices": int(len(inv)),
        "customers": int(n_customers),
        "products": int(sale.code.nunique()),
        "cancel_line_share": round(float(lines.is_cancel.mean()), 5),
        "guest_line_share": round(float(lines.is_guest.mean()), 5),
        "non_product_line_share": round(float((~lines.is_product).mean()), 5),
        "duplicate_line_share": round(float(lines.is_duplicate.mean()), 5),
        "month_share": np.round(np.bincount(lines["at"].dt.month - 1, minlength=12) / n, 5).tolist(),
        "weekday_share": np.round(np.bincount(lines["at"].dt.dayofweek, minlength=7) / n, 5).tolist(),
        "hour_share": np.round(np.bincount(lines["at"].dt.hour, minlength=24) / n, 5).tolist(),
        "lines_per_invoice_quantiles": {str(q): float(inv.quantile(q)) for q in (0.25, 0.5, 0.75, 0.9)},
        "top_product_customer_share": round(float(buyers.iloc[0] / n_customers), 4),
        "top10_product_customer_share": round(float(buyers.iloc[:10].mean() / n_customers), 4),
        "orders_per_customer_median": float(per_customer.median()),
        "orders_per_customer_mean": round(float(per_customer.mean()), 3),
        "country_share": {k: round(float(v), 5) for k, v in country.items()},  # of the customers
        "unit_price_median": float(sale.price.median()),
        "quantity_median": float(sale.quantity.median()),
        "unit_price_geomean": round(float(np.exp(np.log(sale.price).mean())), 4),
        "quantity_geomean": round(float(np.exp(np.log(sale.quantity).mean())), 4),
    }


def fit(path: Path, seed: int = 20101201) -> dict:
    started = time.monotonic()
    raw_bytes = path.read_bytes()
    lines = read_real(path)
    log.info("read %s: %d lines in %.1f s", path, len(lines), time.monotonic() - started)
    rng = np.random.default_rng(seed)
    inv = invoice_kinds(lines)
    lines = lines.join(inv.kind, on="invoice")
    start, end = lines["at"].min().date(), lines["at"].max().date()
    # every kind of invoice has its seasons, weekdays and hours (customers' sales, guests' web
    # sales, cancellations, stock adjustments, fees); the shop's closed days are shared
    closed = fit_calendar(inv, start, end)["closed_days"]
    calendar_profile = {"start": start.isoformat(), "end": end.isoformat(), "closed_days": closed}
    for part in KINDS:
        fitted = fit_calendar(inv[inv.kind == part], start, end, closed)
        calendar_profile[part] = {
            k: fitted[k] for k in ("month_weights", "weekday_weights", "hour_by_weekday")
        }
    calendar = model.Calendar.from_profile(calendar_profile, start, end, "customer_sale")

    # --- the catalogue ---------------------------------------------------------------------
    sale = lines[
        lines.kind.isin(["customer_sale", "guest_sale"])
        & lines.is_product
        & ~lines.is_duplicate
        & (lines.quantity > 0)
        & (lines.price > 0)
    ]
    cust_sale = sale[~sale.is_guest]
    popularity = sale.groupby("code").size().sort_values(ascending=False)
    codes = popularity.index
    descriptions = canonical_descriptions(lines[lines.is_product]).reindex(codes).fillna("")
    modal = cust_sale.groupby("code").cents.agg(lambda s: s.value_counts().index[0])
    guest_modal = sale[sale.is_guest].groupby("code").cents.agg(lambda s: s.value_counts().index[0])
    base_cents = modal.reindex(codes)
    missing = base_cents.isna()
    base_cents[missing] = np.maximum(np.round(guest_modal.reindex(codes)[missing] / 1.97), 1)
    base_cents = base_cents.astype(np.int64)
    topics = fit_topics(sale, codes, seed)
    # customers and guests buy differently (guests: cheaper, other products): two popularities;
    # a product never sold to one of them keeps a small weight
    customer_weight = cust_sale.groupby("code").size().reindex(codes).fillna(0).values
    guest_weight = sale[sale.is_guest].groupby("code").size().reindex(codes).fillna(0).values
    catalogue = model.Catalogue(topic=topics, weight=np.maximum(customer_weight, 0.5), n_topics=N_TOPICS)

    # --- customers' tastes -----------------------------------------------------------------
    customers = pd.Index(sorted(cust_sale.customer.unique()))
    distinct = cust_sale.drop_duplicates(["customer", "code"])
    counts = np.zeros((len(customers), N_TOPICS))
    np.add.at(counts, (customers.get_indexer(distinct.customer), topics[codes.get_indexer(distinct.code)]), 1)
    alpha = fit_alpha(counts, catalogue.topic_mass)
    log.info("taste concentration alpha %.2f over %d topics", alpha, N_TOPICS)
    sale_inv = inv[inv.kind == "customer_sale"].copy()
    sale_inv["person"] = customers.get_indexer(sale_inv.customer)
    sale_inv = sale_inv[sale_inv.person >= 0]
    sale_inv["order"] = sale_inv.groupby("person")["at"].rank(method="first").astype(int)
    # real targets of the slot model, on customers' product lines
    cl = cust_sale.join(sale_inv[["order"]], on="invoice")
    real_distinct, real_repeat = customer_product_stats(
        cl.customer.values, cl.invoice.values, cl.order.values, cl.code.values
    )
    sale_inv["product_lines"] = (
        cust_sale.groupby("invoice").size().reindex(sale_inv.index).fillna(0).astype(int)
    )
    sale_inv = sale_inv[sale_inv.product_lines > 0]
    real_top10 = top_reach(customers.get_indexer(cust_sale.customer), codes.get_indexer(cust_sale.code))
    slot_model = calibrate_slots(
        seed,
        catalogue,
        alpha,
        sale_inv[["person", "order", "product_lines"]],
        (real_distinct, real_repeat, real_top10),
    )

    # --- baskets, quantities, prices ----------------------------------------------------------
    baskets = {}
    for kind in PRODUCT_KINDS:
        k_inv = inv[inv.kind == kind]
        baskets[kind] = model.pmf(k_inv.product_lines.values)
    z = normal_scores(sale_inv.product_lines.values, rng)
    basket_rho = float(np.sqrt(intraclass(z, sale_inv.person.values)))
    guest_inv = inv[inv.kind == "guest_sale"]
    basket_shift = {
        "customer_sale": basket_shifts(sale_inv["at"], z),
        "guest_sale": basket_shifts(guest_inv["at"], normal_scores(guest_inv.product_lines.values, rng)),
    }

    band_edges = np.quantile(base_cents.values, np.linspace(0, 1, PRICE_BANDS + 1)[1:-1]).tolist()
    band = np.searchsorted(band_edges, base_cents.reindex(sale.code).values, side="right")
    quantity = {}
    for group, mask in (("customer", ~sale.is_guest.values), ("guest", sale.is_guest.values)):
        quantity[group] = [
            model.pmf(sale.quantity.values[mask & (band == b)], top=150) for b in range(PRICE_BANDS)
        ]
    cband = np.searchsorted(band_edges, base_cents.reindex(cust_sale.code).values, side="right")
    zq = np.zeros(len(cust_sale))
    for b in range(PRICE_BANDS):
        m = cband == b
        zq[m] = normal_scores(cust_sale.quantity.values[m], rng)
    quantity_rho = float(np.sqrt(intraclass(zq, cust_sale.customer.values)))
    ratio = sale.cents.values / base_cents.reindex(sale.code).values
    price_ratio = {
        "customer": model.pmf(np.round(ratio[~sale.is_guest.values], 2), top=120),
        "guest": model.pmf(np.round(ratio[sale.is_guest.values], 2), top=120),
    }
    zero_price = lines[(lines.kind == "customer_sale") & lines.is_product & ~lines.is_duplicate]
    zero_price_share = float((zero_price.price <= 0).mean())

    # --- non-product codes, fees, adjustments -----------------------------------------------------
    non_product = {}
    np_lines = lines[~lines.is_product & ~lines.is_duplicate]
    kinds_uk = inv.assign(uk=inv.country == UK)
    for code, rows in np_lines.groupby("code"):
        entry = {
            "descriptions": model.pmf(rows.description.values, top=3),
            "quantity_sale": model.pmf(rows.quantity.values[~rows.is_cancel.values], top=20)
            if (~rows.is_cancel).any()
            else None,
            "quantity_cancel": model.pmf(rows.quantity.values[rows.is_cancel.values], top=20)
            if rows.is_cancel.any()
            else None,
            "price_quantiles": quantiles(rows.price.values),
            "rates": {},
        }
        in_product_invoices = rows[rows.kind.isin(PRODUCT_KINDS)]
        for kind in PRODUCT_KINDS:
            for uk in (True, False):
                denom = int(((kinds_uk.kind == kind) & (kinds_uk.uk == uk)).sum())
                with_code = in_product_invoices[
                    (in_product_invoices.kind == kind) & ((in_product_invoices.country == UK) == uk)
                ]
                if denom and len(with_code):
                    entry["rates"][f"{kind}:{'uk' if uk else 'other'}"] = round(
                        with_code.invoice.nunique() / denom, 6
                    )
        non_product[code] = entry
    fee_inv = inv[inv.kind == "fee"]
    fee_first = np_lines[np_lines.kind == "fee"].drop_duplicates("invoice").set_index("invoice").code
    prefix = pd.Series(fee_inv.index.str.extract(r"^([A-Z]?)", expand=False), index=fee_inv.index)
    fee_keys = (
        prefix
        + "|"
        + np.where(fee_inv.is_guest, "guest", "customer")
        + "|"
        + fee_first.reindex(fee_inv.index).fillna("M")
    )
    adj = lines[lines.kind == "adjustment"]
    adj_desc = np.where(
        adj.description.values == descriptions.reindex(adj.code).fillna("").values,
        "<product>",
        adj.description.values,
    )
    adjustments = {
        "descriptions": model.pmf(adj_desc, top=60),
        "quantity_cents": model.pmf((adj.quantity.astype(str) + ":" + adj.cents.astype(str)).values, top=80),
        "countries": model.pmf(adj.country.values, top=5),
    }

    # --- duplicates and cancellations ------------------------------------------------------------
    duplicates = {
        kind: fit_duplicates(lines[lines.kind == kind]) for kind in (*PRODUCT_KINDS, "fee", "adjustment")
    }
    cancels = lines[(lines.kind == "customer_cancel") & lines.is_product & ~lines.is_duplicate]
    bought = cust_sale[["customer", "code", "at", "quantity", "cents"]]
    matched = cancels.reset_index().merge(bought, on=["customer", "code"], suffixes=("", "_sale"))
    matched = matched[matched.at_sale <= matched["at"]].sort_values("at_sale").groupby("index").tail(1)
    delay_days = (matched["at"] - matched.at_sale).dt.total_seconds() / 86400
    cancel_counts = inv[inv.kind == "customer_cancel"].groupby("customer").size()
    sales_per_customer = sale_inv.groupby("customer").size()
    k = np.minimum(
        cancel_counts.reindex(sales_per_customer.index, fill_value=0).values, sales_per_customer.values
    )
    beta_ab = fit_beta_binomial(k, sales_per_customer.values)
    cancellations = {
        "beta_binomial": beta_ab,
        "delay_days_quantiles": quantiles(delay_days.values, 41),
        "matched_share": round(len(matched) / max(len(cancels), 1), 4),
        "full_quantity_share": round(float((-matched.quantity == matched.quantity_sale).mean()), 4),
        "same_price_share": round(float((matched.cents == matched.cents_sale).mean()), 4),
        "guest_cancel_invoices": int((inv.kind == "guest_cancel").sum()),
    }

    # --- customers and guests ------------------------------------------------------------------
    cust_country = lines[~lines.is_guest].groupby("customer").country.first()
    guest_country = inv[inv.kind == "guest_sale"].country
    catalogue_profile = {
        "codes": codes.tolist(),
        "descriptions": descriptions.tolist(),
        "base_cents": base_cents.tolist(),
        "weights": customer_weight.astype(int).tolist(),
        "guest_weights": guest_weight.astype(int).tolist(),
        "topics": topics.tolist(),
    }
    profile = {
        "format": 1,
        "source": {
            "file": path.name,
            "sha256": hashlib.sha256(raw_bytes).hexdigest(),
            "lines": int(len(lines)),
            "fit_seed": seed,
        },
        "calendar": calendar_profile,
        "counts": {kind: int(n) for kind, n in inv.kind.value_counts().items()}
        | {"customers": int(len(customers))},
        "invoice_number": {
            "first": int(inv.index.str.lstrip("CA").astype(int).min()),
            "step_mean": round(
                float(np.diff(np.sort(inv.index.str.lstrip("CA").astype(int).unique())).mean()), 4
            ),
        },
        "customers": {
            "countries": model.pmf(cust_country.values),
            "schedule": fit_schedules(inv[inv.customer.isin(customers)], calendar),
            "basket_rho": round(basket_rho, 4),
            "quantity_rho": round(quantity_rho, 4),
            "id_first": int(pd.to_numeric(customers).min()),
            "id_span_per_customer": round(
                float((pd.to_numeric(customers).max() - pd.to_numeric(customers).min() + 1) / len(customers)),
                4,
            ),
        },
        "guests": {"countries": model.pmf(guest_country.values)},
        "baskets": baskets,
        "basket_shift": basket_shift,
        "quantity": {"band_edges_cents": band_edges, **quantity},
        "price_ratio": price_ratio,
        "zero_price_share": round(zero_price_share, 6),
        "taste": {
            "topics": N_TOPICS,
            **slot_model,
            "real_distinct_share": round(real_distinct, 4),
            "real_repeat_share": round(real_repeat, 4),
            "real_top10_reach": round(real_top10, 4),
        },
        "popularity": fit_zipf(np.maximum(customer_weight, 0.5)),
        "catalogue": catalogue_profile,
        "non_product": non_product,
        "fees": model.pmf(fee_keys.values),
        "adjustments": adjustments,
        "duplicates": duplicates,
        "cancellations": cancellations,
        "summary": summarize(lines),
    }
    log.info("fitted the profile in %.1f s", time.monotonic() - started)
    return profile


def fit_duplicates(k_lines: pd.DataFrame) -> dict:
    """Exact copies of lines: an invoice of n lines has copies with probability
    1 - exp(-rate n) (big invoices more often, as in the real file), and then each line is
    copied with probability line_share; both fitted to the number of invoices with copies and
    the number of copies. Besides: the share of lines repeating a product already on the
    invoice (another quantity or price)."""
    distinct = k_lines[~k_lines.is_duplicate]
    extra = distinct.groupby(["invoice", "code"]).size() - 1
    repeats = {"repeat_line_share": round(float(extra.sum() / max(len(distinct), 1)), 6)}
    per_invoice = k_lines.groupby("invoice").is_duplicate.agg(["size", "sum"])
    n = (per_invoice["size"] - per_invoice["sum"]).values.astype(np.float64)
    with_copies = int((per_invoice["sum"] > 0).sum())
    copies = int(per_invoice["sum"].sum())
    if with_copies == 0:
        return {"rate_per_line": 0.0, "line_share": 0.0, **repeats}
    lo, hi = 1e-9, 10.0
    for _ in range(100):
        rate = np.sqrt(lo * hi)
        lo, hi = (rate, hi) if (1 - np.exp(-rate * n)).sum() < with_copies else (lo, rate)
    expected_lines = ((1 - np.exp(-rate * n)) * n).sum()
    return {
        "rate_per_line": round(float(rate), 8),
        "line_share": round(float(min(copies / expected_lines, 1.0)), 6),
        **repeats,
    }


def fit_beta_binomial(k: np.ndarray, n: np.ndarray) -> list[float]:
    """(a, b) of the customers' return propensity: maximum likelihood of a beta-binomial on
    (cancellation invoices, sale invoices) per customer."""
    from scipy.optimize import minimize
    from scipy.stats import betabinom

    def nll(x):
        a, b = np.exp(x)
        return -float(betabinom.logpmf(k, n, a, b).sum())

    res = minimize(nll, x0=[np.log(0.5), np.log(3.0)], method="Nelder-Mead")
    return [round(float(v), 5) for v in np.exp(res.x)]
