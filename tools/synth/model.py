"""The pieces the fit and the generator share: counter-based random numbers, the calendar
(seasonal intensity and warped time), sampling from fitted distributions, and the taste model
(which products a customer buys).

Every line-level random number is a pure function of (seed, stream, keys): a splitmix64 hash of
the keys, vectorised with numpy. An invoice's lines therefore depend only on the invoice, never
on the chunk it was generated in, so the output is the same for any chunk size and a
cancellation can regenerate the lines of the invoice it cancels.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

_G = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV_2_53 = 1.0 / float(1 << 53)

# Streams: one per kind of random choice (the second argument of `uniform`).
(
    S_SLOT,
    S_TOPIC,
    S_PRODUCT,
    S_QUANTITY,
    S_PRICE,
    S_ZERO_PRICE,
    S_DUP_INVOICE,
    S_DUP_LINE,
    S_DUP_POSITION,
    S_CANCEL_PICK,
    S_CANCEL_QTY,
    S_CANCEL_ORPHAN,
    S_CANCEL_PRICE,
    S_NON_PRODUCT,
    S_NON_PRODUCT_QTY,
    S_NON_PRODUCT_PRICE,
    S_TEMPLATE,
    S_DESCRIPTION,
) = range(1, 19)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    z = z + _G
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform(seed: int, stream: int, *keys) -> np.ndarray:
    """Uniforms in (0, 1), one per element of the broadcast keys, a pure function of
    (seed, stream, keys)."""
    arrays = [np.asarray(k).astype(np.uint64, copy=False) for k in keys]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    z = _mix(np.full(shape, np.uint64((seed * 1_000_003 + stream) & 0xFFFFFFFFFFFFFFFF)))
    for a in arrays:
        z = _mix(z ^ a)
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * _INV_2_53


# --- sampling from fitted distributions ---------------------------------------------------


@dataclass(frozen=True)
class Discrete:
    """A distribution over listed values (a pmf), sampled by inverse CDF."""

    values: np.ndarray
    cdf: np.ndarray

    @classmethod
    def from_counts(cls, values, counts) -> Discrete:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.size == 0 or counts.sum() <= 0:
            raise ValueError("a discrete distribution needs at least one positive count")
        cdf = np.cumsum(counts) / counts.sum()
        cdf[-1] = 1.0
        return cls(np.asarray(values), cdf)

    @classmethod
    def from_profile(cls, entry: dict) -> Discrete:
        return cls.from_counts(entry["values"], entry["counts"])

    def quantile(self, u: np.ndarray) -> np.ndarray:
        return self.values[np.minimum(np.searchsorted(self.cdf, u, side="right"), len(self.values) - 1)]

    def mean(self) -> float:
        p = np.diff(self.cdf, prepend=0.0)
        return float((self.values.astype(np.float64) * p).sum())


def pmf(series_values, top: int | None = None) -> dict:
    """{"values": [...], "counts": [...]} of the distinct values (most frequent first), the
    `top` most frequent only when given."""
    values, counts = np.unique(np.asarray(series_values), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    if top is not None:
        order = order[:top]
    return {"values": values[order].tolist(), "counts": counts[order].tolist()}


def interpolate_quantiles(quantiles: list[float], u: np.ndarray) -> np.ndarray:
    """Sample a continuous distribution given by equally spaced quantiles (0 %..100 %)."""
    q = np.asarray(quantiles, dtype=np.float64)
    return np.interp(u, np.linspace(0.0, 1.0, len(q)), q)


# --- the calendar ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Days of the period with their relative intensity (month-of-year x weekday, zero on
    closed days), and the hour-of-day distribution per weekday.

    Warped time u in [0, 1] is the share of the period's intensity before a moment: customer
    schedules are drawn in warped time, so any mix of customers follows the seasonality.
    """

    start: dt.date
    intensity: np.ndarray  # per day
    hours: list[Discrete]  # per weekday (Monday = 0)

    @classmethod
    def from_profile(cls, calendar: dict, start: dt.date, end: dt.date, part: str) -> Calendar:
        """The calendar of one kind of invoice (part: "customer_sale", "guest_sale",
        "customer_cancel", "guest_cancel", "adjustment", "fee")."""
        weights = calendar[part]
        n_days = (end - start).days + 1
        days = np.array([start + dt.timedelta(days=i) for i in range(n_days)])
        month = np.array([d.month - 1 for d in days])
        weekday = np.array([d.weekday() for d in days])
        closed = set(calendar["closed_days"])
        is_open = np.array([d.strftime("%m-%d") not in closed for d in days])
        intensity = (
            np.asarray(weights["month_weights"])[month] * np.asarray(weights["weekday_weights"])[weekday]
        )
        intensity = intensity * is_open
        hours = [Discrete.from_counts(np.arange(24), row) for row in weights["hour_by_weekday"]]
        return cls(start, intensity, hours)

    @property
    def n_days(self) -> int:
        return len(self.intensity)

    @property
    def cumulative(self) -> np.ndarray:
        cum = np.concatenate([[0.0], np.cumsum(self.intensity)])
        return cum / cum[-1]

    def to_u(self, day: np.ndarray, minute_of_day: np.ndarray) -> np.ndarray:
        """Warped time of moments given as day index and minute of the day."""
        cum = self.cumulative
        return cum[day] + (cum[day + 1] - cum[day]) * (minute_of_day / 1440.0)

    def day_of_u(self, u: np.ndarray) -> np.ndarray:
        """The (open) day index holding warped time u."""
        cum = self.cumulative
        day = np.searchsorted(cum, np.clip(u, 0.0, 1.0), side="right") - 1
        day = np.clip(day, 0, self.n_days - 1)
        # land on an open day (a closed day has zero width, so only u exactly on an edge lands there)
        open_days = np.flatnonzero(self.intensity > 0)
        shut = self.intensity[day] <= 0
        if shut.any():
            day[shut] = open_days[np.minimum(np.searchsorted(open_days, day[shut]), len(open_days) - 1)]
        return day

    def accept_days(self, day: np.ndarray, rng: np.random.Generator, steps: int = 21) -> np.ndarray:
        """Move days forward until the calendar accepts them (with probability intensity / max:
        closed days and days of the week the shop does not invoice never); past the period's
        end, the last open day."""
        top = self.intensity.max()
        day = day.copy()
        done = day >= self.n_days
        for _ in range(steps):
            todo = np.flatnonzero(~done)
            if len(todo) == 0:
                break
            accept = rng.random(len(todo)) * top < self.intensity[day[todo]]
            done[todo[accept]] = True
            rejected = todo[~accept]
            day[rejected] += 1
            done[rejected[day[rejected] >= self.n_days]] = True
        open_days = np.flatnonzero(self.intensity > 0)
        day = np.minimum(day, self.n_days - 1)
        shut = self.intensity[day] <= 0
        if shut.any():
            before = np.searchsorted(open_days, day[shut], side="right") - 1
            day[shut] = open_days[np.maximum(before, 0)]
        return day

    def last_minute(self, day: np.ndarray) -> np.ndarray:
        """The last minute of the day the shop invoices in (its weekday's latest hour)."""
        latest = np.array([int(np.flatnonzero(np.diff(h.cdf, prepend=0.0) > 0).max()) for h in self.hours])
        weekday = (self.start.weekday() + day) % 7
        return day * 1440 + latest[weekday] * 60 + 59

    def minute_in_day(self, day: np.ndarray, u_hour: np.ndarray, u_minute: np.ndarray) -> np.ndarray:
        """A minute of the day (0..1439): the hour from the weekday's hour distribution."""
        weekday = (np.asarray([self.start.weekday()]) + day) % 7
        hour = np.zeros(len(day), dtype=np.int64)
        for w in range(7):
            m = weekday == w
            if m.any():
                hour[m] = self.hours[w].quantile(u_hour[m])
        return hour * 60 + np.minimum((u_minute * 60).astype(np.int64), 59)


# --- products and tastes ----------------------------------------------------------------------


@dataclass
class Catalogue:
    """Products ordered by topic, with the within-topic cumulative popularity the taste draw
    searches (`keys`: topic + cumulative weight within the topic, increasing)."""

    topic: np.ndarray  # per product
    weight: np.ndarray  # per product, popularity (any scale)
    n_topics: int

    def __post_init__(self) -> None:
        order = np.lexsort((np.arange(len(self.topic)), self.topic))
        self.order = order
        w = self.weight[order].astype(np.float64)
        t = self.topic[order]
        topic_mass = np.bincount(t, weights=w, minlength=self.n_topics)
        cum = np.cumsum(w)
        starts = np.searchsorted(t, np.arange(self.n_topics))
        before = np.concatenate([[0.0], cum])[starts]
        within = (cum - before[t]) / np.where(topic_mass[t] > 0, topic_mass[t], 1.0)
        self.keys = t + np.minimum(within, 1.0)
        self.topic_mass = topic_mass / topic_mass.sum()
        gcum = np.cumsum(self.weight.astype(np.float64))
        self.global_cdf = gcum / gcum[-1]

    def in_topic(self, topic: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A product of `topic`, drawn by popularity within the topic."""
        pos = np.searchsorted(self.keys, topic + u, side="right")
        pos = np.minimum(pos, len(self.keys) - 1)
        # an empty topic (no product) cannot be drawn: its mass is 0
        return self.order[pos]

    def by_popularity(self, u: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.global_cdf, u, side="right"), len(self.global_cdf) - 1)


TASTE_TOPICS = 8  # topics kept per customer (the Dirichlet's largest components)


def draw_tastes(rng: np.random.Generator, n: int, topic_mass: np.ndarray, alpha: float):
    """(topics, cumulative weights), each n x TASTE_TOPICS: a customer's taste is a Dirichlet
    draw around the shop's topic mix (concentration alpha: small = specialised customers),
    truncated to its largest components. Drawn in blocks to bound memory."""
    k = min(TASTE_TOPICS, len(topic_mass))
    topics = np.empty((n, k), dtype=np.int16)
    cum = np.empty((n, k), dtype=np.float32)
    shape = np.maximum(alpha * topic_mass, 1e-6)
    for lo in range(0, n, 50_000):
        hi = min(n, lo + 50_000)
        g = rng.gamma(shape, size=(hi - lo, len(topic_mass)))
        top = np.argpartition(-g, k - 1, axis=1)[:, :k] if k < len(topic_mass) else np.argsort(-g, axis=1)
        w = np.take_along_axis(g, top, axis=1)
        total = w.sum(axis=1, keepdims=True)
        empty = total[:, 0] <= 0
        if empty.any():  # every component underflowed: fall back to the shop's mix
            top[empty] = np.argsort(-topic_mass)[:k]
            w[empty] = topic_mass[top[empty]]
            total[empty] = w[empty].sum(axis=1, keepdims=True)
        topics[lo:hi] = top
        cum[lo:hi] = np.cumsum(w / total, axis=1)
    cum[:, -1] = 1.0
    return topics, cum


def taste_products(
    seed: int,
    catalogue: Catalogue,
    taste_topics: np.ndarray,
    taste_cum: np.ndarray,
    person: np.ndarray,
    slot: np.ndarray,
) -> np.ndarray:
    """The product in a person's `slot`: a topic from the person's taste, then a product of
    that topic by popularity. The same (person, slot) always gives the same product, so a
    customer's low slots are the products they buy again and again."""
    u_topic = uniform(seed, S_TOPIC, person, slot)
    u_product = uniform(seed, S_PRODUCT, person, slot)
    k = (u_topic[:, None] > taste_cum[person]).sum(axis=1)
    k = np.minimum(k, taste_cum.shape[1] - 1)
    topic = taste_topics[person, k].astype(np.int64)
    return catalogue.in_topic(topic, u_product)


def slots(u: np.ndarray, n_slots: np.ndarray, gamma: float) -> np.ndarray:
    """Slot of a line: floor(S * u ** gamma); gamma > 1 favours the first slots (favourites)."""
    return np.minimum((n_slots * u**gamma).astype(np.int64), n_slots - 1)


def distinct_within(group: np.ndarray, value: np.ndarray) -> np.ndarray:
    """True for the first occurrence of each (group, value) pair, in array order."""
    if len(group) == 0:
        return np.zeros(0, dtype=bool)
    key = group.astype(np.int64) * (int(value.max()) + 1) + value.astype(np.int64)
    _, first = np.unique(key, return_index=True)
    keep = np.zeros(len(key), dtype=bool)
    keep[first] = True
    return keep


def draw_person_products(
    seed: int,
    catalogue: Catalogue,
    taste_topics: np.ndarray,
    taste_cum: np.ndarray,
    invoice_key: np.ndarray,  # per line
    line_no: np.ndarray,  # per line: its number within the invoice
    person: np.ndarray,  # per line
    n_slots: np.ndarray,  # per line: the person's slot count
    gamma: float,
    rounds: int = 3,
) -> np.ndarray:
    """Products of the lines of persons' invoices (lines grouped by invoice), distinct within
    an invoice: a product drawn twice is drawn again (up to `rounds` times) from other slots,
    then replaced by the next product of the catalogue. (Repeated products within an invoice
    are added afterwards, at the real rate.)"""
    u = uniform(seed, S_SLOT, invoice_key, line_no)
    slot = slots(u, n_slots, gamma)
    product = taste_products(seed, catalogue, taste_topics, taste_cum, person, slot)
    for r in range(1, rounds + 1):
        again = ~distinct_within(invoice_key, product)
        if not again.any():
            break
        idx = np.flatnonzero(again)
        u = uniform(seed, S_SLOT, invoice_key[idx], line_no[idx] + (r << 20))
        slot = slots(u, n_slots[idx], gamma)
        product[idx] = taste_products(seed, catalogue, taste_topics, taste_cum, person[idx], slot)
    again = ~distinct_within(invoice_key, product)
    if again.any():
        # what is left (big invoices of narrow tastes): products by popularity, then the next
        # product of the catalogue; only the invoices concerned are looked at again
        sub = np.flatnonzero(np.isin(invoice_key, np.unique(invoice_key[again])))
        n_products = len(catalogue.topic)
        for r in range(rounds + 1, rounds + 256):
            again = ~distinct_within(invoice_key[sub], product[sub])
            if not again.any():
                break
            idx = sub[again]
            if r <= rounds + 5:
                product[idx] = catalogue.by_popularity(
                    uniform(seed, S_SLOT, invoice_key[idx], line_no[idx] + (r << 20))
                )
            else:
                product[idx] = (product[idx] + 1) % n_products
    return product
