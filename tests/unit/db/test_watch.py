"""The rate and time left of a tracked phase (include/db/watch.py), without a server: a block
that builds several indexes goes through the same phases again, each measured afresh."""

from __future__ import annotations

import pytest

from include.db.watch import _StatementReport

pytestmark = pytest.mark.unit


def report() -> _StatementReport:
    r = _StatementReport.__new__(_StatementReport)  # no connection: only the phase bookkeeping
    r.phase_seen = {}
    return r


def test_the_rate_is_measured_from_the_first_sight_of_the_phase():
    r = report()
    assert r.progress("scanning", 10, 100, "blocks", 1.0) == "10 of 100 blocks (10%)"
    assert (
        r.progress("scanning", 30, 100, "blocks", 2.0)
        == "30 of 100 blocks (30%), 20 blocks/s, about 4 s left"
    )


def test_the_same_phase_of_the_next_index_starts_afresh():
    r = report()
    r.progress("scanning", 10, 100, "blocks", 1.0)
    r.progress("scanning", 90, 100, "blocks", 5.0)
    # the next index: back at 10 %, at 20 s; its rate must not blend in the first index's
    assert r.progress("scanning", 10, 100, "blocks", 20.0) == "10 of 100 blocks (10%)"
    assert (
        r.progress("scanning", 40, 100, "blocks", 21.0)
        == "40 of 100 blocks (40%), 30 blocks/s, about 2 s left"
    )


def test_bytes_are_reported_in_megabytes_per_second():
    r = report()
    r.progress("copy", 0, 10_000_000, "bytes", 1.0)
    assert r.progress("copy", 5_000_000, 10_000_000, "bytes", 2.0).endswith(", 5 MB/s, about 1 s left")
