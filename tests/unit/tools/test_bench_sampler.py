"""The memory sampler of bench/end_to_end_scale.py: it finds the memory of a process tree's
children (a child that allocates after the sampler started), keeps the peak after the memory is
freed, and costs little CPU. No database: the PostgreSQL group is empty when no server runs
from this checkout's data directory, and a running one only adds to the sums."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# the child: holds 300 MB for 1.5 s, then frees it and idles for 1.5 s
CHILD = (
    "import time, sys\n"
    "time.sleep(0.5)\n"
    "block = bytearray(300 * 1024 * 1024)\n"
    "block[::4096] = b'x' * len(block[::4096])\n"
    "time.sleep(1.5)\n"
    "del block\n"
    "time.sleep(1.5)\n"
)


def load_bench():
    spec = importlib.util.spec_from_file_location("end_to_end_scale", ROOT / "bench" / "end_to_end_scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sampler_keeps_the_peak_of_a_grandchild_that_allocated_after_it_started():
    bench = load_bench()
    # a shell whose child allocates: the sampler must walk the tree, not only the root
    parent = subprocess.Popen(["/bin/sh", "-c", f'"{sys.executable}" -c "$0"; true', CHILD])
    sampler = bench.MemorySampler(parent.pid)
    sampler.sample()
    started = time.monotonic()
    sampler.start()
    parent.wait(timeout=30)
    sampler.stop.set()
    sampler.join(timeout=10)
    wall = time.monotonic() - started

    mb = 1024 * 1024
    assert sampler.peak_rss >= 300 * mb, sampler.peak_rss / mb
    assert sampler.peak_cli_rss >= 300 * mb
    assert sampler.peak_pss >= 250 * mb, sampler.peak_pss / mb  # PSS read once a second
    assert 0.4 < sampler.peak_at < wall
    assert sampler.samples > 5
    # the sampler's own CPU: well under a tenth of the wall time (a quarter of a core before)
    assert sampler.sampler_cpu < 0.1 * wall, (sampler.sampler_cpu, wall)
