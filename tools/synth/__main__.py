"""python -m tools.synth {generate,fit}: see tools/synth/__init__.py."""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
from pathlib import Path

from tools.synth import DEFAULT_PROFILE, load_profile

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL_DIR = PROJECT_ROOT / ".local"


def _fit_cached(path: Path) -> Path:
    """Fit a profile from `path` once; later calls with the same bytes reuse it."""
    import hashlib

    from tools.synth import fit

    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cached = LOCAL_DIR / "synth" / f"profile-{digest}.json"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_profile(fit.fit(path), cached)
    return cached


def write_profile(profile: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(
        json.dumps(profile, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8"
    )
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.synth", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a synthetic shop in the Online Retail layout")
    gen.add_argument("--scale", type=float, default=1.0, help="x the real lines and customers (default 1)")
    gen.add_argument("--customers", type=int, help="customers (default: scale x the real 4,334)")
    gen.add_argument(
        "--products", type=int, help="products (default: the real catalogue x max(1, sqrt(scale)))"
    )
    gen.add_argument(
        "--months", type=float, help="length of the period from 2010-12-01 (default: the real 12.3)"
    )
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument(
        "--out", type=Path, help="a .csv or .zip (default .local/synth/online_retail_x<scale>.csv)"
    )
    gen.add_argument("--zip", action="store_true", help="default output as .zip (data.csv inside)")
    gen.add_argument(
        "--profile", type=Path, default=DEFAULT_PROFILE, help="fitted profile (default: the shipped one)"
    )
    gen.add_argument(
        "--fit", type=Path, metavar="REAL_FILE", help="fit the profile from this real file first (cached)"
    )
    gen.add_argument("--chunk-lines", type=int, default=250_000)
    gen.add_argument("--force", action="store_true", help="write even if the output exists")
    fit_p = sub.add_parser("fit", help="fit a profile from a real Online Retail file")
    fit_p.add_argument("real_file", type=Path)
    fit_p.add_argument("--out", type=Path, default=DEFAULT_PROFILE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.command == "fit":
        from tools.synth import fit

        write_profile(fit.fit(args.real_file), args.out)
        print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
        return 0

    from tools.synth import generate

    profile_path = _fit_cached(args.fit) if args.fit else args.profile
    profile = load_profile(profile_path)
    out = args.out or generate.default_output(args.scale, LOCAL_DIR, ".zip" if args.zip else ".csv")
    if out.exists() and not args.force:
        print(f"{out} exists (use --force to write it again)")
        return 0
    opts = generate.Options(
        scale=args.scale,
        customers=args.customers,
        products=args.products,
        months=args.months,
        seed=args.seed,
        out=out,
        chunk_lines=args.chunk_lines,
    )
    result = generate.generate(profile, opts)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024
    print(
        f"{result.path}: {result.lines:,} lines, {result.invoices:,} invoices, {result.customers:,} customers,"
        f" {result.products:,} products, {result.csv_bytes / 1e6:,.1f} MB of CSV"
        + (f" ({result.bytes / 1e6:,.1f} MB zipped)" if result.path.suffix == ".zip" else "")
        + f" in {result.seconds:.1f} s"
        f" (set-up {result.setup_seconds:.1f} s, {result.mb_per_s:.1f} MB/s written;"
        f" CPU {usage.ru_utime + usage.ru_stime:.1f} s), peak RSS {peak_mb:,.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
