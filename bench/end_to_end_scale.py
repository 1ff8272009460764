"""Benchmark: the whole pipeline - the five DAGs as `make demo` runs them, through the project's
CLI in a subprocess - on the real file (--scale 1) or on a synthetic shop k times the real one
(--scale 10, 100: tools/synth, generated when missing), on a fresh warehouse database of its own
(WAREHOUSE_DB=bench_scale_<k>, dropped at the start; the embedded server and Airflow's metadata
database are the checkout's).

    .venv/bin/python bench/end_to_end_scale.py --scale 1
    .venv/bin/python bench/end_to_end_scale.py --scale 10 --timeout 1500

Prints seconds per DAG (the CLI's) and per task (audit.task_runs), rows per stage, and the
peak memory of all the project's processes: the CLI's process tree and the PostgreSQL server's
processes, sampled with psutil (RSS every 0.2 s, PSS every second) and summed, as RSS (shared
memory - PostgreSQL's shared buffers above all - counted once per process that touched it) and
as PSS (shared pages split between the processes sharing them: the sum counts them once). The last line:
`scale=<k> seconds=<wall> peak_rss_mb=<sum of RSS> peak_pss_mb=<sum of PSS>`.
Set OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 on a shared machine.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from include import config  # noqa: E402

REAL_FILE = ROOT.parent / "shared" / "datasets" / "ecommerce-data.zip"
SAMPLE_SECONDS = 0.2
FULL_EVERY = 5  # samples: the process lists, PSS and CPU seconds once a second


def cli_module() -> str:
    """The CLI behind `make demo` (moving from include/cli.py to tools/cli.py)."""
    return "tools.cli" if (ROOT / "tools" / "cli.py").exists() else "include.cli"


PIPELINE = importlib.import_module(cli_module()).PIPELINE  # the DAGs `make demo` runs, in order


def source_for(scale: float, seed: int, python: str) -> tuple[Path, float | None]:
    """(the file to run on, seconds spent generating it or None)."""
    if scale == 1:
        if not REAL_FILE.exists():
            sys.exit(f"{REAL_FILE} is absent: --scale 1 runs on the real file")
        return REAL_FILE, None
    from tools.synth.generate import default_output

    path = default_output(scale, ROOT / ".local")
    if path.exists():
        return path, None
    started = time.monotonic()
    subprocess.run(
        [
            python,
            "-m",
            "tools.synth",
            "generate",
            "--scale",
            f"{scale:g}",
            "--seed",
            str(seed),
            "--out",
            str(path),
        ],
        cwd=ROOT,
        check=True,
    )
    return path, time.monotonic() - started


class MemorySampler(threading.Thread):
    """Sum of RSS (every 0.2 s) and of PSS (every second) over a process tree and the PostgreSQL
    server. The process lists are walked and PSS is read (the kernel walks a process's page
    tables for /proc/<pid>/smaps_rollup) once a second; RSS comes from /proc/<pid>/statm, which
    is cheap. Reading everything every 0.2 s cost the sampler a quarter of a core on this
    2-core machine; `sampler_cpu` reports its own CPU seconds."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.stop = threading.Event()
        self.peak_rss = self.peak_pss = 0
        self.peak_cli_rss = self.peak_pg_rss = 0
        self.peak_at = 0.0
        self.started = time.monotonic()
        self.cpu: dict[tuple[str, int], float] = {}  # (group, pid) -> CPU seconds last seen
        self.procs: dict[str, dict[int, object]] = {"cli": {}, "pg": {}}  # group -> pid -> Process
        self.samples = 0
        self.sampler_cpu = 0.0

    @staticmethod
    def postgres_pids() -> list[int]:
        import psutil

        pid_file = config.PGDATA_DIR / "postmaster.pid"
        try:
            postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
            return [postmaster.pid, *(c.pid for c in postmaster.children(recursive=True))]
        except (OSError, ValueError, IndexError, psutil.Error):
            return []

    def tree(self) -> list[int]:
        import psutil

        try:
            root = psutil.Process(self.root_pid)
            return [root.pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.Error:
            return []

    def refresh(self) -> None:
        import psutil

        for group, pids in (("cli", self.tree()), ("pg", self.postgres_pids())):
            known = self.procs[group]
            for pid in set(known) - set(pids):
                del known[pid]
            for pid in pids:
                if pid not in known:
                    try:
                        known[pid] = psutil.Process(pid)
                    except psutil.Error:
                        continue

    def sample(self, full: bool | None = None) -> None:
        """RSS of every process known; with `full` (every FULL_EVERY-th sample unless said) the
        process lists walked again, PSS and CPU seconds."""
        import psutil

        cpu_started = time.thread_time()
        full = self.samples % FULL_EVERY == 0 if full is None else full
        if full:
            self.refresh()
        self.samples += 1
        totals = {"cli": [0, 0], "pg": [0, 0]}
        for group, procs in self.procs.items():
            for pid, p in list(procs.items()):
                try:
                    info = p.memory_full_info() if full else p.memory_info()
                    if full:
                        times = p.cpu_times()
                        self.cpu[(group, pid)] = times.user + times.system
                except psutil.Error:
                    continue
                totals[group][0] += info.rss
                totals[group][1] += getattr(info, "pss", info.rss)
        rss = totals["cli"][0] + totals["pg"][0]
        if rss > self.peak_rss:
            self.peak_rss, self.peak_at = rss, time.monotonic() - self.started
            self.peak_cli_rss, self.peak_pg_rss = totals["cli"][0], totals["pg"][0]
        if full:
            self.peak_pss = max(self.peak_pss, totals["cli"][1] + totals["pg"][1])
        self.sampler_cpu += time.thread_time() - cpu_started

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            self.sample()
        self.sample(full=True)  # the CPU seconds of every process at the end


def cpu_by_group(before: dict, after: dict) -> dict[str, float]:
    out = {"cli": 0.0, "pg": 0.0}
    for (group, pid), seconds in after.items():
        out[group] += seconds - before.get((group, pid), 0.0)
    return out


def fresh_database(db: str) -> None:
    import psycopg
    from psycopg import sql

    server = (
        f"postgresql://{config.EMBEDDED_PG_USER}@{config.EMBEDDED_PG_HOST}:{config.EMBEDDED_PG_PORT}/postgres"
    )
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))


def warehouse_figures(db: str) -> tuple[list[tuple], dict]:
    """(per-task seconds, rows per stage, rejected lines by reason) from the bench's warehouse."""
    import psycopg

    uri = f"postgresql://{config.EMBEDDED_PG_USER}@{config.EMBEDDED_PG_HOST}:{config.EMBEDDED_PG_PORT}/{db}"
    rows: dict[str, int | None] = {}
    with psycopg.connect(uri, autocommit=True) as conn:
        tasks = conn.execute(
            "select dag_id, task_id, seconds, extract(epoch from finished_at)::float8"
            " from audit.task_runs order by finished_at"
        ).fetchall()
        queries = {
            "raw": "select rows_landed from audit.ingest_runs where status = 'success' order by load_id desc limit 1",
            "clean (staging.order_lines)": "select count(*) from staging.order_lines",
            "returns (staging.returns)": "select count(*) from staging.returns",
            "rejected (staging.rejected_lines)": "select count(*) from staging.rejected_lines",
            "customers (staging.customers)": "select count(*) from staging.customers",
            "products (staging.products)": "select count(*) from staging.products",
            "segmented customers": "select count(*) from marts.customer_segments",
            "segments": "select count(distinct segment_id) from marts.customer_segments",
            "product_similarity rows": "select count(*) from marts.product_similarity",
            "product_pairs rows": "select count(*) from marts.product_pairs",
            "customer_recommendations rows": "select count(*) from marts.customer_recommendations",
        }
        for label, query in queries.items():
            try:
                found = conn.execute(query).fetchone()
                rows[label] = found[0] if found else None
            except psycopg.Error:  # not built yet (a run stopped early)
                rows[label] = None
        try:
            reasons = conn.execute(
                "select reason_code, count(*) from staging.rejected_lines group by 1 order by 2 desc"
            ).fetchall()
        except psycopg.Error:
            reasons = []
    return tasks, rows, reasons


def table(title: str, header: tuple[str, ...], body: list[tuple]) -> str:
    cells = [tuple(str(c) for c in header), *(tuple(str(c) for c in row) for row in body)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    out = [f"\n{title}", line, sep]
    for row in cells[1:]:
        out.append(
            "| "
            + " | ".join(
                c.rjust(w) if c[:1].isdigit() else c.ljust(w) for c, w in zip(row, widths, strict=True)
            )
            + " |"
        )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, required=True, help="1 (the real file), 10, 100, ...")
    parser.add_argument("--seed", type=int, default=42, help="of the synthetic shop")
    parser.add_argument("--timeout", type=float, help="stop the pipeline after this many seconds")
    args = parser.parse_args()
    python = sys.executable
    source, gen_seconds = source_for(args.scale, args.seed, python)
    db = f"bench_scale_{args.scale:g}".replace(".", "_")
    env = {**os.environ, "WAREHOUSE_DB": db, "PYTHONPATH": str(ROOT)}
    env.pop(config.DWH_CONN_ENV, None)  # the bench's own database, not the user's warehouse
    module = cli_module()
    print(
        f"==> scale {args.scale:g}: {source} ({source.stat().st_size / 1e6:,.0f} MB), warehouse {db}, CLI {module}",
        flush=True,
    )
    subprocess.run([python, "-m", module, "up"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    fresh_database(db)

    started, wall_started = time.monotonic(), time.time()
    proc = subprocess.Popen(
        [python, "-m", module, "demo", "--source", str(source)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    sampler = MemorySampler(proc.pid)
    sampler.sample()
    cpu_before = dict(sampler.cpu)
    load_before = os.getloadavg()[0]
    sampler.start()
    dag_seconds: dict[str, tuple[str, float]] = {}
    timed_out = False

    def watchdog() -> None:
        nonlocal timed_out
        if args.timeout and proc.poll() is None:
            timed_out = True
            print(
                f"--- timeout after {args.timeout:.0f} s: stopping the pipeline (process group {proc.pid})",
                flush=True,
            )
            os.killpg(proc.pid, signal.SIGTERM)
            time.sleep(10)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(args.timeout, watchdog) if args.timeout else None
    if timer:
        timer.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        m = re.match(r"\s+(\w+)\s+(\w+) in ([0-9.]+) s", line)
        if m and m.group(1) in PIPELINE:
            dag_seconds[m.group(1)] = (m.group(2), float(m.group(3)))
    proc.wait()
    wall = time.monotonic() - started
    if timer:
        timer.cancel()
    sampler.stop.set()
    sampler.join()
    cpu = cpu_by_group(cpu_before, sampler.cpu)
    load_after = os.getloadavg()[0]

    tasks, rows, reasons = warehouse_figures(db)
    status = (
        "timeout"
        if timed_out
        else ("success" if proc.returncode == 0 else f"failed (exit {proc.returncode})")
    )
    print(
        f"\n=== end to end, scale {args.scale:g}: {status} in {wall:.1f} s"
        + (f" (synthetic file generated in {gen_seconds:.1f} s, not counted)" if gen_seconds else "")
    )
    dag_rows = [(d, *dag_seconds.get(d, ("not run", 0.0))) for d in PIPELINE]
    print(
        table(
            "seconds per DAG",
            ("dag", "state", "seconds"),
            [(d, s, f"{t:.1f}") for d, s, t in dag_rows]
            + [("all five DAGs", "", f"{sum(t for *_, t in dag_rows):.1f}")],
        )
    )
    print(
        table(
            "seconds per task (audit.task_runs)",
            ("dag", "task", "seconds"),
            [(d, t, f"{float(s):.1f}") for d, t, s, _ in tasks],
        )
    )
    print(
        table(
            "rows per stage",
            ("stage", "rows"),
            [(k, f"{v:,}" if isinstance(v, int) else (v if v is not None else "-")) for k, v in rows.items()],
        )
    )
    print("rejected by reason: " + (", ".join(f"{r} {n:,}" for r, n in reasons) or "-"))
    mb = 1024 * 1024
    print(
        table(
            "peak memory of the project's processes (psutil: RSS every 0.2 s, PSS every second)",
            ("measure", "MB"),
            [
                ("sum of RSS, CLI tree + PostgreSQL", f"{sampler.peak_rss / mb:,.0f}"),
                ("  of which the CLI tree (at the peak)", f"{sampler.peak_cli_rss / mb:,.0f}"),
                ("  of which PostgreSQL (at the peak)", f"{sampler.peak_pg_rss / mb:,.0f}"),
                ("sum of PSS (shared pages counted once)", f"{sampler.peak_pss / mb:,.0f}"),
            ],
        )
    )
    peak_wall = wall_started + sampler.peak_at
    at_peak = [f"{d}.{t}" for d, t, sec, end in tasks if end - float(sec) - 1 <= peak_wall <= end + 1]
    print(f"the RSS peak at {sampler.peak_at:,.0f} s, during {', '.join(at_peak) or 'no recorded task'}")
    print(
        f"\nCPU seconds (psutil, of the processes the sampler saw): CLI tree {cpu['cli']:,.0f},"
        f" PostgreSQL {cpu['pg']:,.0f}; load average {load_before:.1f} at the start, {load_after:.1f} at the end,"
        f" {os.cpu_count()} cores; the sampler itself {sampler.sampler_cpu:,.1f}"
    )
    print(
        f"\nscale={args.scale:g} seconds={wall:.1f} peak_rss_mb={sampler.peak_rss / mb:.0f} "
        f"peak_pss_mb={sampler.peak_pss / mb:.0f} status={status}"
    )
    return 0 if status == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
