"""Generate a synthetic shop in the Online Retail layout from a fitted profile.

Set-up (memory in proportion to customers and invoices, never to lines): the catalogue (the
real products, plus new ones composed from them when asked for more), the customers (country,
taste, basket and quantity propensities, return propensity, order schedule) and every invoice's
time, kind and size, in time order. Then the lines are generated chunk by chunk of invoices
(vectorised), formatted and handed to a writer thread: memory stays flat whatever the scale.

Every line-level choice is a hash of (seed, invoice, line), so the bytes depend on the seed and
the options only, not on the chunk size.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import ndtr, ndtri

from tools.synth import model
from tools.synth.model import Discrete, uniform

log = logging.getLogger(__name__)

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ENCODING = "iso-8859-1"
KINDS = ("customer_sale", "guest_sale", "customer_cancel", "guest_cancel", "adjustment", "fee")
K_CSALE, K_GSALE, K_CCANCEL, K_GCANCEL, K_ADJ, K_FEE = range(6)
PRODUCT_KINDS = KINDS[:4]
PRICE_TABLE_CENTS = 200_000
QUANTITY_TABLE = 100_000


@dataclass
class Options:
    scale: float = 1.0
    customers: int | None = None  # default: scale x the real customers
    products: int | None = None  # default: the real catalogue x max(1, sqrt(scale))
    months: float | None = None  # default: the real period (2010-12-01..2011-12-09)
    seed: int = 42
    out: Path | None = None
    chunk_lines: int = 250_000
    compress_level: int = 1  # for .zip outputs


@dataclass
class Result:
    path: Path
    lines: int
    invoices: int
    customers: int
    products: int
    bytes: int  # of the file (compressed, for a .zip)
    csv_bytes: int  # of the CSV text
    seconds: float
    setup_seconds: float
    kinds: dict = field(default_factory=dict)

    @property
    def mb_per_s(self) -> float:
        """CSV text written per second, set-up included."""
        return self.csv_bytes / 1e6 / max(self.seconds, 1e-9)


def default_output(scale: float, local_dir: Path, suffix: str = ".csv") -> Path:
    label = f"{scale:g}".replace(".", "_")
    return local_dir / "synth" / f"online_retail_x{label}{suffix}"


def csv_field(text: str) -> str:
    """Quote as the real file does (Python csv, QUOTE_MINIMAL)."""
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


# --- the catalogue ----------------------------------------------------------------------------


class DescriptionComposer:
    """New product descriptions from the real vocabulary: keep the start (or the end) of a
    real description and continue it with the real word bigrams, so the words, their
    frequencies and the character n-grams stay those of the real catalogue."""

    START, END = "\x02", "\x03"

    def __init__(self, descriptions: list[str], rng: random.Random) -> None:
        self.rng = rng
        self.forward: dict[str, list[str]] = {}
        self.backward: dict[str, list[str]] = {}
        for text in descriptions:
            words = [self.START, *text.split(), self.END]
            if len(words) < 3:
                continue
            for a, b in zip(words[:-1], words[1:], strict=True):
                self.forward.setdefault(a, []).append(b)
                self.backward.setdefault(b, []).append(a)

    def _walk(self, word: str, table: dict[str, list[str]], stop: str, limit: int) -> list[str]:
        out: list[str] = []
        while len(out) < limit:
            nxt = table.get(word)
            if not nxt:
                break
            word = nxt[self.rng.randrange(len(nxt))]
            if word == stop:
                break
            out.append(word)
        return out

    def compose(self, parent: str, taken: set[str]) -> str:
        words = parent.split()
        for _ in range(12):
            if len(words) >= 2 and self.rng.random() < 0.5:
                k = self.rng.randrange(1, len(words))
                text = [*words[:k], *self._walk(words[k - 1], self.forward, self.END, len(words) + 2 - k)]
            elif words:
                k = self.rng.randrange(0, len(words))
                head = self._walk(words[k], self.backward, self.START, max(1, k + 1))
                text = [*reversed(head), *words[k:]]
            else:
                text = self._walk(self.START, self.forward, self.END, 6)
            candidate = " ".join(text)
            if candidate and candidate not in taken:
                return candidate
        starts = self.forward[self.START]
        for _ in range(50):
            candidate = f"{starts[self.rng.randrange(len(starts))]} {parent}".strip()
            if candidate not in taken:
                return candidate
        return f"{parent} {len(taken)}"


def extended_popularity(real_weights: np.ndarray, n_products: int) -> tuple[np.ndarray, np.ndarray]:
    """(weight by rank, rank of each real product) of a catalogue F = n_products / n_real times
    the real one. The real rank curve c (the real products' popularity, sorted; interpolated
    in log-log between ranks) is stretched progressively: rank r of the big catalogue takes
    the weight c(g(r)) g'(r) with g'(r) = 1 / (1 + (F - 1) r / H) and g(N) = n_real. The best
    sellers keep their weight (g' ~ 1 at the head: the top products are still bought by
    10-20 % of the customers), the tail is shared among F times more products, and the total
    stays that of the real curve. The real products keep their order, at ranks g^-1(k); the
    new ones take the ranks between."""
    c = np.sort(np.asarray(real_weights, dtype=np.float64))[::-1]
    n_real = len(c)
    f = n_products / n_real
    lo, hi = 1e-3, 1e9  # H such that g(N) = n_real
    for _ in range(200):
        h = np.sqrt(lo * hi)
        g_n = h / (f - 1) * np.log1p((f - 1) * n_products / h)
        lo, hi = (lo, h) if g_n > n_real else (h, hi)
    r = np.arange(1, n_products + 1, dtype=np.float64)
    g = np.clip(h / (f - 1) * np.log1p((f - 1) * r / h), 1.0, n_real)
    log_c = np.interp(np.log(g), np.log(np.arange(1, n_real + 1)), np.log(c))
    weights = np.exp(log_c) / (1 + (f - 1) * r / h)
    i = np.arange(n_real)
    ranks = np.round(h / (f - 1) * np.expm1((i + 1) * (f - 1) / h)).astype(np.int64) - 1
    ranks = np.maximum.accumulate(np.maximum(ranks, 0) - i) + i  # strictly increasing
    ranks = np.minimum(ranks, n_products - n_real + i)
    return weights, ranks


@dataclass
class Shop:
    codes: list[str]
    descriptions: list[str]
    base_cents: np.ndarray
    catalogue: model.Catalogue  # customers' popularity
    guest_catalogue: model.Catalogue  # guests' popularity (same products and topics)
    band: np.ndarray  # price band of each product (quantity distributions)
    frags: np.ndarray  # "code,description" per product, CSV-ready


def build_catalogue(profile: dict, n_products: int, seed: int) -> Shop:
    cat = profile["catalogue"]
    codes = list(cat["codes"])
    descriptions = list(cat["descriptions"])
    base = np.asarray(cat["base_cents"], dtype=np.int64)
    topics = np.asarray(cat["topics"], dtype=np.int64)
    weights = np.maximum(np.asarray(cat["weights"], dtype=np.float64), 0.5)
    guest_weights = np.maximum(np.asarray(cat["guest_weights"], dtype=np.float64), 0.5)
    n_real = len(codes)
    rng = np.random.default_rng([seed, 1])
    if n_products <= n_real:  # the most popular real products (the profile lists them by popularity)
        keep = slice(0, n_products)
        codes, descriptions = codes[keep], descriptions[keep]
        base, topics, weights, guest_weights = base[keep], topics[keep], weights[keep], guest_weights[keep]
    else:
        prng = random.Random(seed)
        composer = DescriptionComposer(descriptions, prng)
        taken_desc = set(descriptions)
        taken_codes = set(codes)
        used_roots = {c[:5] for c in codes if c[:5].isdigit()}
        free_roots = [f"{r:05d}" for r in range(10_000, 100_000) if f"{r:05d}" not in used_roots]
        prng.shuffle(free_roots)
        real_prices = np.unique(base)
        n_new = n_products - n_real
        parents = rng.integers(0, n_real, n_new)
        factors = np.exp(rng.normal(0.0, 0.3, n_new))
        new_codes, new_desc = [], []
        for i, parent in enumerate(parents.tolist()):
            code = None
            root = codes[parent][:5]
            if root.isdigit() and prng.random() < 0.5:
                for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
                    if root + letter not in taken_codes:
                        code = root + letter
                        break
            if code is None:
                code = free_roots.pop() + (prng.choice("ABCDEFGH") if prng.random() < 0.3 else "")
            taken_codes.add(code)
            text = composer.compose(descriptions[parent], taken_desc)
            taken_desc.add(text)
            new_codes.append(code)
            new_desc.append(text)
            if (i + 1) % 20_000 == 0:
                log.info("catalogue: %d of %d new products composed", i + 1, n_new)
        wanted = np.round(base[parents] * factors)
        snapped = real_prices[np.clip(np.searchsorted(real_prices, wanted), 0, len(real_prices) - 1)]
        codes += new_codes
        descriptions += new_desc
        base = np.concatenate([base, snapped])
        topics = np.concatenate([topics, topics[parents]])
        by_rank, ranks = extended_popularity(weights, n_products)
        real_ranks = np.empty(n_real, dtype=np.int64)
        real_ranks[np.argsort(-weights, kind="stable")] = ranks  # the real products keep their order
        free = np.ones(n_products, dtype=bool)
        free[real_ranks] = False
        new_ranks = rng.permutation(np.flatnonzero(free))
        weights = np.concatenate([by_rank[real_ranks], by_rank[new_ranks]])
        # guests: the real products keep their own (rescaled) popularity, new ones the curve's
        guest_weights = np.concatenate(
            [guest_weights * weights[:n_real].sum() / guest_weights.sum(), weights[n_real:]]
        )
    n_topics = int(profile["taste"]["topics"])
    catalogue = model.Catalogue(topic=topics, weight=weights, n_topics=n_topics)
    guest_catalogue = model.Catalogue(topic=topics, weight=guest_weights, n_topics=n_topics)
    band = np.searchsorted(profile["quantity"]["band_edges_cents"], base, side="right")
    frags = np.array([f"{c},{csv_field(d)}" for c, d in zip(codes, descriptions, strict=True)], dtype=object)
    return Shop(codes, descriptions, base, catalogue, guest_catalogue, band, frags)


# --- customers and invoices ---------------------------------------------------------------------


@dataclass
class Invoices:
    """Every invoice of the file, in file (time) order."""

    kind: np.ndarray  # int8
    key: np.ndarray  # int64, unique: the hash key of the invoice's lines
    person: np.ndarray  # int64: customer index, guest index + n_customers, or -1
    minute: np.ndarray  # int64: minutes since the start of the period
    n: np.ndarray  # int64: product lines (fee and adjustment invoices: 1)
    parent: np.ndarray  # int64: the cancelled invoice (index into these arrays) or -1
    country: np.ndarray  # int16 into `countries`
    template: np.ndarray  # int16: fee template, or -1
    number: np.ndarray  # int64


def stochastic_round(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    low = np.floor(x)
    return (low + (rng.random(x.shape) < (x - low))).astype(np.int64)


def sample_count(rng: np.random.Generator, mean: float) -> int:
    return int(stochastic_round(np.array([mean]), rng)[0])


@dataclass
class People:
    n_customers: int
    ids: np.ndarray  # customer ids
    country: np.ndarray  # per person (customers then guests), into `countries`
    z_basket: np.ndarray
    z_quantity: np.ndarray
    taste_topics: np.ndarray
    taste_cum: np.ndarray
    n_slots: np.ndarray  # per person


def schedule_customers(profile: dict, calendar: model.Calendar, n_customers: int, period_factor: float, rng):
    """(person, warped time) of every customer sale invoice."""
    sched = profile["customers"]["schedule"]
    orders = Discrete.from_profile(sched["orders"]).quantile(rng.random(n_customers)).astype(np.float64)
    n = np.maximum(stochastic_round(orders * period_factor, rng), 1)
    follow = profile["customers"]["schedule"].get("follow_up_share", 0.0)
    follow_ups = rng.binomial(n - 1, follow)
    sessions = n - follow_ups
    bins = sched["span_bins"]
    bounds = sorted(int(b) for b in sched["buckets"])
    bucket_of = np.searchsorted(bounds, sessions, side="right") - 1
    first = np.empty(n_customers)
    last = np.empty(n_customers)
    beta = np.ones(n_customers)
    for b, lo in enumerate(bounds):
        m = bucket_of == b
        if not m.any():
            continue
        entry = sched["buckets"][str(lo)]
        cells = Discrete.from_profile(entry["cells"]).quantile(rng.random(m.sum())).astype(np.int64)
        f = (cells // bins + rng.random(m.sum())) / bins
        la = (cells % bins + rng.random(m.sum())) / bins
        if lo == 1:
            la = f
        first[m] = np.minimum(f, la)
        last[m] = np.maximum(f, la)
        beta[m] = entry.get("gap_beta", 1.0)
    # sessions: first and last at the drawn ends, the ones between by Dirichlet(beta) gaps
    person = np.repeat(np.arange(n_customers), sessions)
    pos = np.arange(sessions.sum()) - np.repeat(np.cumsum(sessions) - sessions, sessions)
    gaps = rng.gamma(np.repeat(beta, sessions))
    gaps[pos == 0] = 0.0
    cum = np.cumsum(gaps)
    start_cum = np.repeat(cum[np.cumsum(sessions) - sessions], sessions)
    total = np.repeat(np.add.reduceat(gaps, np.cumsum(sessions) - sessions), sessions)
    share = np.where(total > 0, (cum - start_cum) / np.where(total > 0, total, 1.0), 0.0)
    share = np.where(np.repeat(sessions, sessions) == 1, 0.0, share)
    u = np.repeat(first, sessions) + share * np.repeat(last - first, sessions)
    if period_factor == 1.0 and "session_u_quantiles" in sched:
        # all customers' sessions together follow the real ones over the year (a monotone map:
        # every customer keeps the order of their sessions)
        rank = np.empty(len(u))
        rank[np.argsort(u, kind="stable")] = (np.arange(len(u)) + 0.5) / len(u)
        u = model.interpolate_quantiles(sched["session_u_quantiles"], rank)
    # same-day follow-up invoices: after a random session of the customer
    fu_person = np.repeat(np.arange(n_customers), follow_ups)
    session_start = np.cumsum(sessions) - sessions
    fu_session = session_start[fu_person] + (rng.random(len(fu_person)) * sessions[fu_person]).astype(
        np.int64
    )
    return person, u, fu_person, fu_session


def build_invoices(profile: dict, opts: Options, calendar: model.Calendar, shop: Shop, n_customers: int):
    rng = np.random.default_rng([opts.seed, 2])
    last_day = calendar.start + dt.timedelta(days=calendar.n_days - 1)
    calendars = {
        k: model.Calendar.from_profile(profile["calendar"], calendar.start, last_day, k) for k in KINDS
    }
    guest_calendar = calendars["guest_sale"]
    counts = profile["counts"]
    real_days = (
        dt.date.fromisoformat(profile["calendar"]["end"])
        - dt.date.fromisoformat(profile["calendar"]["start"])
    ).days + 1
    period_factor = calendar.n_days / real_days
    scale = opts.scale
    countries = sorted(
        set(profile["customers"]["countries"]["values"])
        | set(profile["guests"]["countries"]["values"])
        | set(profile["adjustments"]["countries"]["values"])
    )
    country_index = {c: i for i, c in enumerate(countries)}

    def country_sampler(entry):
        d = Discrete.from_profile(entry)
        return Discrete(np.array([country_index[c] for c in d.values]), d.cdf)

    # customers
    c_prof = profile["customers"]
    span = c_prof["id_span_per_customer"]
    ids = c_prof["id_first"] + np.sort(
        rng.choice(int(np.ceil(n_customers * span)) + 1, n_customers, replace=False)
    )
    ids = rng.permutation(ids)
    cust_country = country_sampler(c_prof["countries"]).quantile(rng.random(n_customers))
    z_basket = rng.standard_normal(n_customers)
    z_quantity = rng.standard_normal(n_customers)
    a, b = profile["cancellations"]["beta_binomial"]
    return_p = rng.beta(a, b, n_customers)
    person, u, fu_person, fu_session = schedule_customers(profile, calendar, n_customers, period_factor, rng)
    # sale invoices of customers: sessions, then follow-ups (same day, a little later)
    day = calendar.day_of_u(u)
    minute = day * 1440 + calendar.minute_in_day(day, rng.random(len(day)), rng.random(len(day)))
    delays = model.interpolate_quantiles(
        c_prof["schedule"].get("follow_up_minutes", [5, 60]), rng.random(len(fu_person))
    )
    fu_minute = minute[fu_session] + np.round(delays).astype(np.int64)
    fu_minute = np.minimum(
        fu_minute, np.maximum(calendar.last_minute(minute[fu_session] // 1440), minute[fu_session])
    )
    cs_person = np.concatenate([person, fu_person])
    cs_minute = np.concatenate([minute, fu_minute])
    rho = c_prof["basket_rho"]
    basket = Discrete.from_profile(profile["baskets"]["customer_sale"])
    zb = rho * z_basket[cs_person] + np.sqrt(1 - rho**2) * rng.standard_normal(len(cs_person))
    cs_n = basket.quantile(
        ndtr(shifted(zb, cs_minute, calendar.start, profile["basket_shift"]["customer_sale"]))
    ).astype(np.int64)
    lines_per_customer = np.bincount(cs_person, weights=cs_n, minlength=n_customers)

    # guests: one taste per guest invoice
    n_gs = sample_count(rng, scale * period_factor * counts.get("guest_sale", 0))
    g_day = guest_calendar.day_of_u(rng.random(n_gs))
    g_minute = g_day * 1440 + guest_calendar.minute_in_day(g_day, rng.random(n_gs), rng.random(n_gs))
    g_z = shifted(rng.standard_normal(n_gs), g_minute, calendar.start, profile["basket_shift"]["guest_sale"])
    g_n = Discrete.from_profile(profile["baskets"]["guest_sale"]).quantile(ndtr(g_z)).astype(np.int64)
    g_country = country_sampler(profile["guests"]["countries"]).quantile(rng.random(n_gs))

    taste = profile["taste"]
    topics, cum = model.draw_tastes(rng, n_customers, shop.catalogue.topic_mass, taste["alpha"])
    g_topics, g_cum = model.draw_tastes(rng, n_gs, shop.guest_catalogue.topic_mass, taste["alpha"])
    topics, cum = np.concatenate([topics, g_topics]), np.concatenate([cum, g_cum])
    n_slots = np.concatenate(
        [
            np.maximum(np.round(taste["kappa"] * lines_per_customer), 1),
            np.maximum(np.round(taste["kappa"] * g_n), 1),
        ]
    ).astype(np.int64)
    people = People(
        n_customers=n_customers,
        ids=ids,
        country=np.concatenate([cust_country, g_country]),
        z_basket=z_basket,
        z_quantity=z_quantity,
        taste_topics=topics,
        taste_cum=cum,
        n_slots=n_slots,
    )

    # cancellations of customers' invoices: after the invoice, within the period
    cc_mask = rng.random(len(cs_person)) < return_p[cs_person]
    cc_parent = np.flatnonzero(cc_mask)
    cc_minute = cancellation_times(
        calendars["customer_cancel"],
        cs_minute[cc_parent],
        profile["cancellations"]["delay_days_quantiles"],
        rng,
    )
    # lines of a cancellation: as many as the customer's baskets are big (the basket copula);
    # beyond the cancelled invoice's lines, they return goods bought before (orphan lines)
    zc = rho * z_basket[cs_person[cc_parent]] + np.sqrt(1 - rho**2) * rng.standard_normal(len(cc_parent))
    cc_n = Discrete.from_profile(profile["baskets"]["customer_cancel"]).quantile(ndtr(zc)).astype(np.int64)

    def uniform_times(count, kind):
        cal = calendars[kind]
        d = cal.day_of_u(rng.random(count))
        return d * 1440 + cal.minute_in_day(d, rng.random(count), rng.random(count))

    n_gc = sample_count(rng, scale * period_factor * counts.get("guest_cancel", 0))
    gc_n = (
        Discrete.from_profile(profile["baskets"]["guest_cancel"]).quantile(rng.random(n_gc)).astype(np.int64)
    )
    gc_country = country_sampler(profile["guests"]["countries"]).quantile(rng.random(n_gc))
    n_adj = sample_count(rng, scale * period_factor * counts.get("adjustment", 0))
    adj_country = country_sampler(profile["adjustments"]["countries"]).quantile(rng.random(n_adj))
    n_fee = sample_count(rng, scale * period_factor * counts.get("fee", 0))
    fees = Discrete.from_profile(profile["fees"])
    fee_t = np.searchsorted(fees.cdf, rng.random(n_fee), side="right").clip(0, len(fees.values) - 1)
    fee_is_guest = np.array([v.split("|")[1] == "guest" for v in fees.values])[fee_t]
    fee_person = np.where(fee_is_guest, -1, rng.integers(0, n_customers, n_fee))
    fee_country = np.where(
        fee_is_guest,
        country_sampler(profile["guests"]["countries"]).quantile(rng.random(n_fee)),
        cust_country[np.maximum(fee_person, 0)],
    )

    n_cs = len(cs_person)
    kind = np.concatenate(
        [
            np.full(n_cs, K_CSALE),
            np.full(n_gs, K_GSALE),
            np.full(len(cc_parent), K_CCANCEL),
            np.full(n_gc, K_GCANCEL),
            np.full(n_adj, K_ADJ),
            np.full(n_fee, K_FEE),
        ]
    ).astype(np.int8)
    person_all = np.concatenate(
        [
            cs_person,
            n_customers + np.arange(n_gs),
            cs_person[cc_parent],
            np.full(n_gc, -1),
            np.full(n_adj, -1),
            fee_person,
        ]
    )
    minute_all = np.concatenate(
        [
            cs_minute,
            g_minute,
            cc_minute,
            uniform_times(n_gc, "guest_cancel"),
            uniform_times(n_adj, "adjustment"),
            uniform_times(n_fee, "fee"),
        ]
    )
    n_all = np.concatenate([cs_n, g_n, cc_n, gc_n, np.ones(n_adj, np.int64), np.ones(n_fee, np.int64)])
    parent_all = np.concatenate([np.full(n_cs + n_gs, -1), cc_parent, np.full(n_gc + n_adj + n_fee, -1)])
    country_all = np.concatenate(
        [
            cust_country[cs_person],
            g_country,
            cust_country[cs_person[cc_parent]],
            gc_country,
            adj_country,
            fee_country,
        ]
    ).astype(np.int16)
    template_all = np.concatenate([np.full(len(kind) - n_fee, -1), fee_t]).astype(np.int16)
    key_all = np.arange(len(kind), dtype=np.int64)
    order = np.lexsort((uniform(opts.seed, model.S_TEMPLATE, key_all), minute_all))
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    parent_all = np.where(parent_all >= 0, position[np.maximum(parent_all, 0)], -1)
    i32 = np.int32  # compact: the invoices stay in memory while the lines stream
    inv = Invoices(
        kind=kind[order],
        key=key_all[order].astype(i32),
        person=person_all[order].astype(i32),
        minute=minute_all[order].astype(i32),
        n=n_all[order].astype(i32),
        parent=parent_all[order].astype(i32),
        country=country_all[order],
        template=template_all[order],
        number=np.zeros(0, i32),
    )
    del key_all, person_all, minute_all, n_all, parent_all, country_all, template_all, order, position
    numbering = profile["invoice_number"]
    step_extra = max(numbering["step_mean"] - 1.0, 0.0)
    first = numbering["first"]
    if first + len(kind) * (1 + step_extra) >= 9_999_999:  # keep 6-7 digit invoice numbers
        step_extra, first = 0.0, 100_000
    if first + len(kind) >= 9_999_999:
        raise ValueError(f"{len(kind):,} invoices do not fit the layout's 6-7 digit invoice numbers")
    inv.number = (first + np.cumsum(1 + rng.poisson(step_extra, len(kind))) - 1).astype(i32)
    return inv, people, countries


def shifted(z: np.ndarray, minute: np.ndarray, start: dt.date, shift: dict) -> np.ndarray:
    """Basket scores moved by the season, weekday and hour of the invoice (fitted shifts),
    rescaled to unit variance."""
    day = minute // 1440
    dates = np.datetime64(start.isoformat(), "D") + day
    month = dates.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (start.weekday() + day) % 7
    hour = (minute % 1440) // 60
    mu = (
        np.asarray(shift["month"])[month]
        + np.asarray(shift["weekday"])[weekday]
        + np.asarray(shift["hour"])[hour]
    )
    return (z + mu) / np.sqrt(1.0 + mu.var()) if len(mu) else z


def cancellation_times(calendar: model.Calendar, sale_minute: np.ndarray, delay_quantiles, rng) -> np.ndarray:
    """When a cancellation follows its sale: a delay from the fitted distribution; within the
    day of the sale for delays under a day, else on a day the cancellations' calendar accepts
    (weekday profile; hour from its calendar), never after the period."""
    delay = model.interpolate_quantiles(delay_quantiles, rng.random(len(sale_minute)))
    sale_day = sale_minute // 1440
    day = sale_day + np.round(delay).astype(np.int64)
    late = day >= calendar.n_days
    day[late] = sale_day[late] + (rng.random(late.sum()) * (calendar.n_days - sale_day[late])).astype(
        np.int64
    )
    moved = day != sale_day
    day[moved] = calendar.accept_days(day[moved], rng)
    day = np.maximum(day, sale_day)
    minute = day * 1440 + calendar.minute_in_day(day, rng.random(len(day)), rng.random(len(day)))
    same_day = day == sale_day
    later = np.maximum(minute, sale_minute + np.round(delay * 1440).astype(np.int64))
    later = np.minimum(later, np.maximum(calendar.last_minute(day), sale_minute))
    return np.where(same_day, later, np.maximum(minute, sale_minute))


# --- lines ------------------------------------------------------------------------------------------


class LineMaker:
    """Vectorised lines of a set of invoices; every array is per line."""

    def __init__(self, profile: dict, shop: Shop, people: People, seed: int) -> None:
        self.p = profile
        self.shop = shop
        self.people = people
        self.seed = seed
        self.taste = profile["taste"]
        q = profile["quantity"]
        self.qty = {g: [Discrete.from_profile(e) for e in q[g]] for g in ("customer", "guest")}
        self.ratio = {g: Discrete.from_profile(profile["price_ratio"][g]) for g in ("customer", "guest")}
        self.non_product = list(profile["non_product"].items())
        self.code_index = {code: i for i, (code, _) in enumerate(self.non_product)}
        adj = profile["adjustments"]
        self.adj_desc = Discrete.from_profile(adj["descriptions"])
        qc = Discrete.from_profile(adj["quantity_cents"])
        pairs = np.array([[int(x) for x in v.split(":")] for v in qc.values])
        self.adj_qc = (pairs, qc.cdf)
        self.fees = Discrete.from_profile(profile["fees"])

    # -- products lines of customers and guests (sales) --
    def sales(self, key, person, n, is_guest):
        """Product lines of sale invoices: (invoice index, line number, product, quantity, cents)."""
        inv = np.repeat(np.arange(len(key)), n)
        line_no = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        k = key[inv]
        per = person[inv]
        guest_line = is_guest[inv]
        product = np.empty(len(k), dtype=np.int64)
        for catalogue, m in ((self.shop.catalogue, ~guest_line), (self.shop.guest_catalogue, guest_line)):
            if m.any():
                product[m] = model.draw_person_products(
                    self.seed,
                    catalogue,
                    self.people.taste_topics,
                    self.people.taste_cum,
                    k[m],
                    line_no[m],
                    per[m],
                    self.people.n_slots[per[m]],
                    self.taste["gamma"],
                )
        quantity = self.quantities(k, line_no, product, per, guest_line)
        cents = self.prices(k, line_no, product, guest_line)
        zero = ~guest_line & (uniform(self.seed, model.S_ZERO_PRICE, k, line_no) < self.p["zero_price_share"])
        cents[zero] = 0
        return inv, line_no, product, quantity, cents

    def quantities(self, k, line_no, product, per, guest_line):
        u = uniform(self.seed, model.S_QUANTITY, k, line_no)
        rho = self.p["customers"]["quantity_rho"]
        cust = ~guest_line
        if cust.any():
            z = rho * self.people.z_quantity[per[cust]] + np.sqrt(1 - rho**2) * ndtri(u[cust])
            u[cust] = ndtr(z)
        band = self.shop.band[product]
        quantity = np.empty(len(product), dtype=np.int64)
        for group, mask in (("customer", cust), ("guest", guest_line)):
            for b, dist in enumerate(self.qty[group]):
                m = mask & (band == b)
                if m.any():
                    quantity[m] = dist.quantile(u[m])
        return quantity

    def prices(self, k, line_no, product, guest_line):
        u = uniform(self.seed, model.S_PRICE, k, line_no)
        ratio = np.where(guest_line, self.ratio["guest"].quantile(u), self.ratio["customer"].quantile(u))
        return np.maximum(np.round(self.shop.base_cents[product] * ratio), 1).astype(np.int64)


def format_lines(prefix, frag, quantity, mid, cents, suffix, qty_table, price_table) -> str:
    """CSV text of lines: invoice prefix, product fragment, quantity, date, price, customer, country."""
    q_idx = quantity + QUANTITY_TABLE
    q_ok = (q_idx >= 0) & (q_idx < len(qty_table))
    q_str = qty_table[np.where(q_ok, q_idx, 0)]
    if not q_ok.all():
        q_str[~q_ok] = [str(int(v)) for v in quantity[~q_ok]]
    c_ok = (cents >= 0) & (cents < len(price_table))
    c_str = price_table[np.where(c_ok, cents, 0)]
    if not c_ok.all():
        c_str[~c_ok] = [repr(int(v) / 100) for v in cents[~c_ok]]
    return "".join(
        [
            f"{a}{b},{c}{d}{e}{f}"
            for a, b, c, d, e, f in zip(
                prefix.tolist(),
                frag.tolist(),
                q_str.tolist(),
                mid.tolist(),
                c_str.tolist(),
                suffix.tolist(),
                strict=True,
            )
        ]
    )


class Writer(threading.Thread):
    """Writes (and for .zip compresses: zlib releases the GIL) while the next chunk is made."""

    def __init__(self, path: Path, compress_level: int) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.compress_level = compress_level
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.bytes = 0

    def run(self) -> None:
        try:
            partial = self.path.with_name(self.path.name + ".partial")
            if self.path.suffix == ".zip":
                with zipfile.ZipFile(
                    partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=self.compress_level
                ) as zf:
                    with zf.open("data.csv", "w", force_zip64=True) as out:
                        self._drain(out)
            else:
                with partial.open("wb") as out:
                    self._drain(out)
            partial.replace(self.path)
        except BaseException as err:  # handed to the main thread
            self.error = err
            while True:  # unblock the producer
                if self.queue.get() is None:
                    break

    def _drain(self, out) -> None:
        while (data := self.queue.get()) is not None:
            out.write(data)
            self.bytes += len(data)

    def put(self, data: bytes | None) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(data)


def generate(profile: dict, opts: Options) -> Result:
    started = time.monotonic()
    cal = profile["calendar"]
    start = dt.date.fromisoformat(cal["start"])
    if opts.months:
        end = start + dt.timedelta(days=round(opts.months * 365.25 / 12) - 1)
    else:
        end = dt.date.fromisoformat(cal["end"])
    calendar = model.Calendar.from_profile(cal, start, end, "customer_sale")
    n_real_products = len(profile["catalogue"]["codes"])
    n_products = opts.products or round(n_real_products * max(1.0, opts.scale**0.5))
    n_customers = opts.customers or max(1, round(opts.scale * profile["counts"]["customers"]))
    shop = build_catalogue(profile, n_products, opts.seed)
    inv, people, countries = build_invoices(profile, opts, calendar, shop, n_customers)
    setup = time.monotonic() - started
    log.info(
        "set-up %.1f s: %d products, %d customers, %d invoices (%s)",
        setup,
        n_products,
        n_customers,
        len(inv.kind),
        ", ".join(f"{k} {int((inv.kind == i).sum()):,}" for i, k in enumerate(KINDS)),
    )
    out = opts.out
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = Writer(out, opts.compress_level)
    writer.start()
    maker = LineMaker(profile, shop, people, opts.seed)
    texts = Texts(
        day=np.array(
            [
                f"{d.month}/{d.day}/{d.year}"
                for d in (start + dt.timedelta(days=i) for i in range(calendar.n_days))
            ],
            dtype=object,
        ),
        hm=np.array([f" {m // 60}:{m % 60:02d}," for m in range(1440)], dtype=object),
        country=np.array(countries, dtype=object),
        customer_id=np.array([str(i) for i in people.ids], dtype=object),
        quantity=np.array([str(v) for v in range(-QUANTITY_TABLE, QUANTITY_TABLE + 1)], dtype=object),
        price=np.array([repr(c / 100) for c in range(PRICE_TABLE_CENTS)], dtype=object),
    )
    writer.put(HEADER.encode(ENCODING))
    total_lines = 0
    expected = inv.n.astype(np.float64)
    bounds = np.searchsorted(
        np.cumsum(expected),
        np.arange(opts.chunk_lines, expected.sum() + opts.chunk_lines, opts.chunk_lines),
        side="right",
    )
    lo = 0
    last_log = time.monotonic()
    try:
        for hi in [*bounds.tolist(), len(inv.kind)]:
            hi = min(max(hi, lo + 1), len(inv.kind))
            if lo >= len(inv.kind):
                break
            text, n_lines = make_chunk(maker, inv, slice(lo, hi), people, countries, texts)
            writer.put(text.encode(ENCODING))
            total_lines += n_lines
            lo = hi
            if time.monotonic() - last_log > 10:
                last_log = time.monotonic()
                done = lo / len(inv.kind)
                rate = total_lines / (last_log - started - setup)
                log.info(
                    "%s: %d lines (%.0f %% of invoices), %.0f lines/s, about %.0f s left",
                    out.name,
                    total_lines,
                    done * 100,
                    rate,
                    (last_log - started) / max(done, 1e-9) * (1 - done),
                )
    finally:
        writer.queue.put(None)
        writer.join()
    if writer.error is not None:
        raise writer.error
    seconds = time.monotonic() - started
    return Result(
        path=out,
        lines=total_lines,
        invoices=len(inv.kind),
        customers=n_customers,
        products=n_products,
        bytes=out.stat().st_size,
        csv_bytes=writer.bytes,
        seconds=seconds,
        setup_seconds=setup,
        kinds={k: int((inv.kind == i).sum()) for i, k in enumerate(KINDS)},
    )


@dataclass(frozen=True)
class Texts:
    """The text of every value a line is assembled from, indexed by the value (or its position)."""

    day: np.ndarray  # by day of the calendar: 'M/D/YYYY'
    hm: np.ndarray  # by minute of the day: ' H:MM,'
    country: np.ndarray  # by country index
    customer_id: np.ndarray  # by person index
    quantity: np.ndarray  # by quantity + QUANTITY_TABLE
    price: np.ndarray  # by price in cents


def make_chunk(
    maker: LineMaker, inv: Invoices, sl: slice, people: People, countries, texts: Texts
) -> tuple[str, int]:
    day_str, hm_str, country_str, id_str = texts.day, texts.hm, texts.country, texts.customer_id
    seed = maker.seed
    kind = inv.kind[sl]
    key = inv.key[sl]
    person = inv.person[sl]
    n = inv.n[sl]
    shop = maker.shop
    parts = []  # (invoice index in chunk, order key, frag array, quantity, cents)

    # sales of customers and guests
    idx = np.flatnonzero((kind == K_CSALE) | (kind == K_GSALE))
    if len(idx):
        li, line_no, product, quantity, cents = maker.sales(
            key[idx], person[idx], n[idx], kind[idx] == K_GSALE
        )
        parts.append((idx[li], line_no.astype(np.float64), shop.frags[product], quantity, cents))

    # cancellations of customers' invoices: lines of the cancelled invoice, regenerated
    idx = np.flatnonzero(kind == K_CCANCEL)
    if len(idx):
        parent = inv.parent[sl][idx]
        pli, pline, pproduct, pqty, pcents = maker.sales(
            inv.key[parent], inv.person[parent], inv.n[parent], np.zeros(len(idx), dtype=bool)
        )
        ckey = key[idx][pli]
        u = uniform(seed, model.S_CANCEL_PICK, ckey, pline)
        order = np.lexsort((u, pli))
        rank = np.empty(len(order), dtype=np.int64)
        starts = np.searchsorted(pli[order], np.arange(len(idx)))
        rank[order] = np.arange(len(order)) - np.repeat(starts, np.bincount(pli, minlength=len(idx)))
        keep = rank < n[idx][pli]
        pli, pline, pproduct, pqty, pcents, ckey = (
            pli[keep],
            rank[keep],
            pproduct[keep],
            pqty[keep],
            pcents[keep],
            ckey[keep],
        )
        # lines beyond the cancelled invoice's: goods bought before (orphans, drawn below)
        extra = np.maximum(n[idx] - inv.n[parent], 0)
        if extra.any():
            eli = np.repeat(np.arange(len(idx)), extra)
            eline = inv.n[parent][eli] + np.arange(extra.sum()) - np.repeat(np.cumsum(extra) - extra, extra)
            pli = np.concatenate([pli, eli])
            pline = np.concatenate([pline, eline])
            pproduct = np.concatenate([pproduct, np.zeros(len(eli), np.int64)])
            pqty = np.concatenate([pqty, np.ones(len(eli), np.int64)])
            pcents = np.concatenate([pcents, np.zeros(len(eli), np.int64)])
            ckey = np.concatenate([ckey, key[idx][eli]])
        c = maker.p["cancellations"]
        per = person[idx][pli]
        beyond = pline >= inv.n[parent][pli]
        orphan = beyond | (uniform(seed, model.S_CANCEL_ORPHAN, ckey, pline) > c["matched_share"])
        if orphan.any():
            slot = people.n_slots[per[orphan]] + pline[orphan]
            pproduct[orphan] = model.taste_products(
                seed, shop.catalogue, people.taste_topics, people.taste_cum, per[orphan], slot
            )
            pqty[orphan] = maker.quantities(
                ckey[orphan], pline[orphan], pproduct[orphan], per[orphan], np.zeros(orphan.sum(), bool)
            )
            pcents[orphan] = shop.base_cents[pproduct[orphan]]
        uq = uniform(seed, model.S_CANCEL_QTY, ckey, pline)
        full = uq < c["full_quantity_share"]
        partial_q = np.maximum(
            np.ceil(pqty * (uq - c["full_quantity_share"]) / (1 - c["full_quantity_share"])), 1
        )
        quantity = -np.where(full, pqty, np.minimum(partial_q, pqty)).astype(np.int64)
        other_price = uniform(seed, model.S_CANCEL_PRICE, ckey, pline) > c["same_price_share"]
        cents = np.where(other_price, shop.base_cents[pproduct], pcents)
        parts.append((idx[pli], pline.astype(np.float64), shop.frags[pproduct], quantity, cents))

    # cancellations by guests: products by popularity
    idx = np.flatnonzero(kind == K_GCANCEL)
    if len(idx):
        li = np.repeat(np.arange(len(idx)), n[idx])
        line_no = np.arange(len(li)) - np.repeat(np.cumsum(n[idx]) - n[idx], n[idx])
        k = key[idx][li]
        product = shop.guest_catalogue.by_popularity(uniform(seed, model.S_SLOT, k, line_no))
        guest = np.ones(len(li), dtype=bool)
        quantity = -maker.quantities(k, line_no, product, np.zeros(len(li), np.int64), guest)
        cents = maker.prices(k, line_no, product, guest)
        parts.append((idx[li], line_no.astype(np.float64), shop.frags[product], quantity, cents))

    # stock adjustments: one line, quantity or price <= 0
    idx = np.flatnonzero(kind == K_ADJ)
    if len(idx):
        k = key[idx]
        product = shop.guest_catalogue.by_popularity(uniform(seed, model.S_SLOT, k))
        pairs, cdf = maker.adj_qc
        pick = np.minimum(
            np.searchsorted(cdf, uniform(seed, model.S_TEMPLATE, k), side="right"), len(pairs) - 1
        )
        desc = maker.adj_desc.quantile(uniform(seed, model.S_DESCRIPTION, k))
        frag = np.array(
            [
                shop.frags[p] if d == "<product>" else f"{shop.codes[p]},{csv_field(d)}"
                for p, d in zip(product.tolist(), desc.tolist(), strict=True)
            ],
            dtype=object,
        )
        parts.append((idx, np.zeros(len(idx)), frag, pairs[pick, 0], pairs[pick, 1]))

    # fee invoices and non-product lines of product invoices
    idx = np.flatnonzero(kind == K_FEE)
    fee_rows = []
    if len(idx):
        tmpl = maker.fees.values[inv.template[sl][idx]]
        codes = np.array([t.split("|")[2] for t in tmpl])
        fee_rows.append((idx, codes))
    country = inv.country[sl]
    is_uk = np.asarray(country_str[country] == "United Kingdom")
    prod_kind = kind <= K_GCANCEL
    for c_i, (code, e) in enumerate(maker.non_product):
        rates = e["rates"]
        if not rates:
            continue
        rate = np.zeros(len(kind))
        for kname, kid in zip(PRODUCT_KINDS, range(4), strict=True):
            for uk_flag, tag in ((True, "uk"), (False, "other")):
                r = rates.get(f"{kname}:{tag}", 0.0)
                if r:
                    rate[(kind == kid) & (is_uk == uk_flag)] = r
        hit = np.flatnonzero(prod_kind & (uniform(seed, model.S_NON_PRODUCT, key, c_i) < rate))
        if len(hit):
            fee_rows.append((hit, np.full(len(hit), code, dtype=object)))
    for rows, codes in fee_rows:
        frag = np.empty(len(rows), dtype=object)
        quantity = np.empty(len(rows), dtype=np.int64)
        cents = np.empty(len(rows), dtype=np.int64)
        cancel = (kind[rows] == K_CCANCEL) | (kind[rows] == K_GCANCEL)
        if len(rows) and (kind[rows] == K_FEE).any():
            fee_cancel = np.array(
                [t.startswith("C") for t in maker.fees.values[inv.template[sl][rows[kind[rows] == K_FEE]]]]
            )
            cancel[kind[rows] == K_FEE] = fee_cancel
        k = key[rows]
        for code in set(codes.tolist()):
            m = codes == code
            e = maker.p["non_product"][code]
            d = Discrete.from_profile(e["descriptions"]).quantile(uniform(seed, model.S_DESCRIPTION, k[m], 7))
            frag[m] = [f"{code},{csv_field(x)}" for x in d.tolist()]
            uq = uniform(seed, model.S_NON_PRODUCT_QTY, k[m], 7)
            q_sale = e["quantity_sale"] or {"values": [1], "counts": [1]}
            q_cancel = e["quantity_cancel"] or {"values": [-1], "counts": [1]}
            qs = Discrete.from_profile(q_sale).quantile(uq)
            qc = Discrete.from_profile(q_cancel).quantile(uq)
            quantity[m] = np.where(cancel[m], -np.abs(qc), qs)
            price = model.interpolate_quantiles(
                e["price_quantiles"], uniform(seed, model.S_NON_PRODUCT_PRICE, k[m], 7)
            )
            cents[m] = np.round(price * 100).astype(np.int64)
        code_index = np.array([maker.code_index[c] for c in codes.tolist()], dtype=np.float64)
        order_key = np.where(kind[rows] == K_FEE, 0.0, 1e6 + code_index)  # one line per code and invoice
        parts.append((rows, order_key, frag, quantity, cents))

    li = np.concatenate([p[0] for p in parts])
    okey = np.concatenate([p[1] for p in parts])
    frag = np.concatenate([p[2] for p in parts])
    quantity = np.concatenate([p[3] for p in parts]).astype(np.int64)
    cents = np.concatenate([p[4] for p in parts]).astype(np.int64)

    # the same product again on the invoice, with another quantity (repeat lines), and exact
    # duplicates; both later in the same invoice
    dup = maker.p["duplicates"]
    repeat_share = np.array([dup[k].get("repeat_line_share", 0.0) for k in KINDS])[kind]
    again = np.flatnonzero(
        uniform(seed, model.S_DUP_LINE, key[li], okey.astype(np.int64) + (1 << 30)) < repeat_share[li]
    )
    if len(again):
        u = uniform(seed, model.S_DUP_POSITION, key[li[again]], okey[again].astype(np.int64) + (1 << 30))
        r_key = okey[again] + 0.25 + u * np.maximum(n[li[again]] - okey[again], 1.0)
        r_qty = quantity[again] + np.where(quantity[again] < 0, -1, 1) * (1 + (u * 1e6).astype(np.int64) % 3)
        li = np.concatenate([li, li[again]])
        okey = np.concatenate([okey, r_key])
        frag = np.concatenate([frag, frag[again]])
        quantity = np.concatenate([quantity, r_qty])
        cents = np.concatenate([cents, cents[again]])
    rate = np.array([dup[k]["rate_per_line"] for k in KINDS])[kind]
    line_share = np.array([dup[k]["line_share"] for k in KINDS])[kind]
    dup_inv = uniform(seed, model.S_DUP_INVOICE, key) < 1 - np.exp(-rate * n)
    okey_int = (okey * 4).astype(np.int64)
    copy = dup_inv[li] & (uniform(seed, model.S_DUP_LINE, key[li], okey_int) < line_share[li])
    if copy.any():
        c_idx = np.flatnonzero(copy)
        span = np.maximum(n[li[c_idx]] - okey[c_idx], 1.0)
        c_key = (
            okey[c_idx] + 0.5 + uniform(seed, model.S_DUP_POSITION, key[li[c_idx]], okey_int[c_idx]) * span
        )
        li = np.concatenate([li, li[c_idx]])
        okey = np.concatenate([okey, c_key])
        frag = np.concatenate([frag, frag[c_idx]])
        quantity = np.concatenate([quantity, quantity[c_idx]])
        cents = np.concatenate([cents, cents[c_idx]])
    order = np.lexsort((okey, li))
    li, frag, quantity, cents = li[order], frag[order], quantity[order], cents[order]

    # per-invoice text: number, date, customer and country
    number = inv.number[sl]
    prefix_letter = np.full(len(kind), "", dtype=object)
    prefix_letter[(kind == K_CCANCEL) | (kind == K_GCANCEL)] = "C"
    fee_idx = np.flatnonzero(kind == K_FEE)
    if len(fee_idx):
        prefix_letter[fee_idx] = [t.split("|")[0] for t in maker.fees.values[inv.template[sl][fee_idx]]]
    prefix = np.array(
        [f"{p}{x}," for p, x in zip(prefix_letter.tolist(), number.tolist(), strict=True)], dtype=object
    )
    minute = inv.minute[sl]
    mid = "," + day_str[minute // 1440] + hm_str[minute % 1440]
    cust = np.where(person >= 0, person, 0)
    is_customer = (person >= 0) & (person < people.n_customers)
    cid = np.where(is_customer, id_str[np.minimum(cust, len(id_str) - 1)], "")
    suffix = "," + cid + "," + country_str[country] + "\n"
    text = format_lines(prefix[li], frag, quantity, mid[li], cents, suffix[li], texts.quantity, texts.price)
    return text, len(li)
