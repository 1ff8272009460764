"""Benchmark: our ingestion of the full ecommerce-data.zip against a plain `psql \\copy` of the
same CSV into a text table, on the same server, in one run. Target: ingestion <= 1.5x the copy.

    .venv/bin/python bench/ingest_vs_psql_copy.py [path/to/ecommerce-data.zip] [--repeat 3]

Uses its own database (`dwh_bench`) on the embedded server. Prints median seconds of each.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from include import config  # noqa: E402
from tools import runtime  # noqa: E402

DEFAULT_ZIP = config.PROJECT_ROOT.parent / "shared" / "datasets" / "ecommerce-data.zip"
PLAIN_TABLE = """
drop table if exists public.plain_copy;
create table public.plain_copy (
    invoice_no text, stock_code text, description text, quantity text,
    invoice_date text, unit_price text, customer_id text, country text
);
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("zip", nargs="?", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.zip.is_file():
        print(f"{args.zip} not found: pass the full ecommerce-data.zip", file=sys.stderr)
        return 2
    runtime.prepare("dwh_bench")
    from include.db.connection import connect, warehouse_uri
    from include.tasks.ingest_ecommerce import land_source, load_raw
    from tools import embedded

    uri = warehouse_uri()
    with connect(uri) as conn:  # a clean slate: the bench database is the benchmark's own
        conn.execute("truncate raw.online_retail_lines, audit.ingest_runs")
    psql = str(embedded.bin_path("psql")) if runtime.uses_embedded_server() else "psql"
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(args.zip) as zf:
            csv_path = Path(zf.extract("data.csv", tmp))
        copy_cmd = (
            f"\\copy public.plain_copy from '{csv_path}' with (format csv, header true, encoding 'LATIN1')"
        )
        plain, ours, rows = [], [], 0
        for _ in range(args.repeat):
            with connect(uri) as conn:
                conn.execute(PLAIN_TABLE)
            started = time.monotonic()
            subprocess.run([psql, "-X", "-q", uri, "-c", copy_cmd], check=True)
            plain.append(time.monotonic() - started)

            started = time.monotonic()
            result = load_raw(land_source(str(args.zip)), "bench", f"bench-{time.time_ns()}")
            ours.append(time.monotonic() - started)
            rows = result["rows"]
    p, o = statistics.median(plain), statistics.median(ours)
    print(f"rows                          {rows:,}")
    print(f"plain psql \\copy (text table)  {p:6.2f} s   runs: {', '.join(f'{x:.2f}' for x in plain)}")
    print(f"ingest (land + COPY + audit)  {o:6.2f} s   runs: {', '.join(f'{x:.2f}' for x in ours)}")
    print(
        f"ratio                         {o / p:6.2f}x   target <= 1.50x: {'met' if o / p <= 1.5 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
