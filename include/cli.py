"""Project commands behind the Makefile: `python -m include.cli {demo,psql,airflow,serve,stop,up}`.

Kept apart from the domain code: it starts servers, sets Airflow's environment and runs DAGs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from include import config, runtime

log = logging.getLogger("include.cli")

# The DAGs `make demo` runs, in order (each downstream DAG is the consumer of the one before).
PIPELINE = (
    "ingest_ecommerce",
    "validate_and_clean",
    "segment_customers",
    "recommend_products",
    "publish_marts",
)
SERVICES = ("api-server", "scheduler", "dag-processor")
PID_DIR = config.LOCAL_DIR / "pids"
LOG_DIR = config.LOCAL_DIR / "logs"


def _run_dag(dag_id: str, conf: dict) -> tuple[str, float]:
    """Run one DAG end to end, its log going to .local/logs/demo-<dag_id>.log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_file = LOG_DIR / f"demo-{dag_id}.log"
    started = time.monotonic()
    print(f"--> {dag_id:<24} running (log: {log_file})", flush=True)
    with log_file.open("w") as out, _fds_to(out):
        run = runtime.run_dag(dag_id, conf)
    seconds = time.monotonic() - started
    print(f"    {dag_id:<24} {run.state} in {seconds:.1f} s", flush=True)
    return str(run.state), seconds


@contextmanager
def _fds_to(out) -> Iterator[None]:
    """Point this process's stdout and stderr (file descriptors 1 and 2) at `out`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(out.fileno(), 1)
    os.dup2(out.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def demo(source: str) -> int:
    runtime.prepare()
    source_path = Path(source)
    if source_path.exists():
        source = str(source_path.resolve())
    print(f"==> running the pipeline on {source}", flush=True)
    timings = {}
    for dag_id in PIPELINE:
        conf = {"source": source} if dag_id == "ingest_ecommerce" else {}
        state, seconds = _run_dag(dag_id, conf)
        timings[dag_id] = seconds
        if state != "success":
            print(f"\nDAG {dag_id} ended {state}: see its task logs under {config.AIRFLOW_HOME / 'logs'}")
            return 1
    print(summary(timings))
    return 0


def ml_summary() -> list[str]:
    """Segments and recommendation quality of the published marts (empty before the first run)."""
    from include.db.connection import connect

    with connect() as conn:
        if conn.execute("select to_regclass('published.current_runs') is null").fetchone()[0]:
            return []
        segments = conn.execute(
            "select segment_id, segment_name, count(*) from marts.customer_segments group by 1, 2 order by 1"
        ).fetchall()
        chosen = conn.execute(
            "select algorithm, k, silhouette from marts.segmentation_metrics where is_chosen limit 1"
        ).fetchone()
        outliers = conn.execute(
            "select count(*) filter (where is_outlier) from marts.customer_segments"
        ).fetchone()
        metrics = conn.execute(
            "select list_type, method, ndcg_at_10 from marts.recommendation_metrics"
            " order by list_type, ndcg_at_10 desc"
        ).fetchall()
        recommendations = conn.execute("select count(*) from marts.customer_recommendations").fetchone()[0]
    lines = []
    if segments and chosen:
        lines.append(
            f"segments     {chosen[0]} k={chosen[1]} silhouette {chosen[2]:.3f}, DBSCAN outliers {outliers[0]:,}: "
            + ", ".join(f"{name} {n:,}" for _, name, n in segments)
        )
    for list_type in ("discover", "buy_again"):
        rows = [(m, v) for lt, m, v in metrics if lt == list_type]
        if rows:
            best_baseline = max((v for m, v in rows if not m.startswith("hybrid")), default=None)
            hybrid = max((v for m, v in rows if m.startswith("hybrid")), default=None)
            if hybrid is not None and best_baseline:
                lines.append(
                    f"{list_type:<12} NDCG@10 hybrid {hybrid:.4f} vs best baseline {best_baseline:.4f}"
                    f" ({(hybrid / best_baseline - 1) * 100:+.0f} %)"
                )
    if recommendations:
        lines.append(
            f"lists        {recommendations:,} recommendation rows in marts.customer_recommendations"
        )
    return lines


def summary(dag_seconds: dict[str, float]) -> str:
    from include.db.connection import connect, redact, warehouse_uri

    with connect() as conn:
        run = conn.execute(
            "select load_id, source, layout, rows_landed, step_seconds, source_sha256"
            " from audit.ingest_runs where status = 'success' order by finished_at desc limit 1"
        ).fetchone()
    lines = ["", "=== pipeline summary ==="]
    if run:
        load_id, source, layout, rows, steps, sha = run
        lines += [
            f"source       {source} (layout {layout}, sha256 {sha[:12]}...)",
            f"raw          {rows:>10,} rows   load_id {load_id}   "
            + "  ".join(f"{k} {v:.2f} s" for k, v in steps.items() if v is not None),
        ]
        with connect() as conn:
            staged = conn.execute(
                "select (select count(*) from staging.order_lines), (select count(*) from staging.returns),"
                " (select count(*) from staging.rejected_lines), (select count(*) from staging.customers),"
                " (select count(*) from staging.products)"
            ).fetchone()
            reasons = conn.execute(
                "select reason_code, count(*) from staging.rejected_lines group by 1 order by 2 desc"
            ).fetchall()
        if layout != "customer_personality":
            clean, returns, rejected, customers, products = staged
            lines += [
                f"staging      {clean:>10,} clean lines  {returns:,} returns  {rejected:,} rejected"
                f"  ({customers:,} customers, {products:,} products)",
                "             rejected by reason: " + ", ".join(f"{code} {n:,}" for code, n in reasons),
            ]
    lines += ml_summary()
    lines += [f"DAG {dag_id:<24} {seconds:6.1f} s" for dag_id, seconds in dag_seconds.items()]
    runs = sorted(config.RUNS_DIR.glob("*/"), key=lambda p: p.stat().st_mtime)
    docs = [p / "data_docs" / "index.html" for p in runs if (p / "data_docs" / "index.html").exists()]
    if docs:
        lines.append(f"Data Docs    {docs[-1]}")
    plots = [p / "segmentation" for p in runs if (p / "segmentation").is_dir()]
    if plots:
        lines.append(
            f"plots        {plots[-1]}/<population>/*.png  (elbow, silhouette, k-distance, PCA, profiles)"
        )
    hyper = [p / "tableau" / "marts.hyper" for p in runs if (p / "tableau" / "marts.hyper").exists()]
    if hyper:
        lines.append(f"Hyper        {hyper[-1]}")
    uri = redact(warehouse_uri())
    lines += [
        "",
        f"results      warehouse {uri}  (BI reads schema marts; also raw, staging, ml, audit)",
        "             make psql            # e.g.  echo 'select * from marts.pipeline_runs' | make -s psql",
        f"Airflow UI   make airflow         # then http://127.0.0.1:{config.AIRFLOW_API_PORT}"
        f"  login {config.AIRFLOW_ADMIN_USER} / {config.AIRFLOW_ADMIN_PASSWORD}",
        f"Tableau      PostgreSQL connector: server {config.EMBEDDED_PG_HOST}, port {config.EMBEDDED_PG_PORT},"
        f" database {config.WAREHOUSE_DB}, user {config.BI_ROLE} (read-only), schema marts;"
        f" or open {config.TABLEAU_TDS_PATH.relative_to(config.PROJECT_ROOT)}",
    ]
    return "\n".join(lines)


def psql(extra: list[str]) -> int:
    """Exec psql on the warehouse; standard input passes through."""
    runtime.configure_environment()
    if runtime.uses_embedded_server():
        from include.db import embedded

        embedded.ensure_running()
        exe = str(embedded.bin_path("psql"))
    else:
        exe = "psql"
    from include.db.connection import warehouse_uri

    os.execv(exe, [exe, "-X", "-v", "ON_ERROR_STOP=1", warehouse_uri(), *extra])


def airflow_services() -> int:
    """Start api-server, scheduler and dag-processor in the background; print URL and login."""
    runtime.prepare()
    PID_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    airflow = str(Path(sys.executable).with_name("airflow"))
    for service in SERVICES:
        pid_file = PID_DIR / f"{service}.pid"
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            print(f"{service} already running (pid {pid_file.read_text().strip()})")
            continue
        with (LOG_DIR / f"{service}.log").open("ab") as out:
            proc = subprocess.Popen(
                [airflow, service], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        pid_file.write_text(str(proc.pid))
        print(f"started {service} (pid {proc.pid}, log {LOG_DIR / (service + '.log')})")
    print(
        f"\nAirflow UI: http://127.0.0.1:{config.AIRFLOW_API_PORT}  login {config.AIRFLOW_ADMIN_USER} / admin"
    )
    print("stop everything with: make stop")
    return 0


def serve(host: str, port: int) -> int:
    """The recommendation API alone (the app the api-server mounts at /recommendations), in the
    foreground; tokens from the api-server's POST /auth/token are valid here (same JWT secret)."""
    runtime.configure_environment()
    if runtime.uses_embedded_server():
        from include.db import embedded

        embedded.ensure_running()
    from include.serve.app import run

    print(f"recommendation API: http://{host}:{port}/docs  (health: /health)", flush=True)
    return run(host, port)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop() -> int:
    """Stop what the project started, by process id: Airflow services, then the database."""
    for pid_file in sorted(PID_DIR.glob("*.pid")) if PID_DIR.is_dir() else []:
        pid = int(pid_file.read_text())
        if _alive(pid):
            os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                if not _alive(pid):
                    break
                time.sleep(0.2)
            else:
                os.killpg(pid, signal.SIGKILL)
            print(f"stopped {pid_file.stem} (pid {pid})")
        pid_file.unlink()
    from include.db import embedded

    if embedded.stop():
        print("stopped the embedded PostgreSQL")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    demo_p = sub.add_parser("demo", help="run the whole pipeline and print a summary")
    demo_p.add_argument("--source", default=str(config.SAMPLE_SOURCE))
    sub.add_parser("up", help="start the embedded database and prepare Airflow")
    psql_p = sub.add_parser("psql", help="psql on the warehouse")
    psql_p.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("airflow", help="start the Airflow UI and services")
    serve_p = sub.add_parser("serve", help="the recommendation API alone (uvicorn, foreground)")
    serve_p.add_argument("--host", default="127.0.0.1")
    serve_p.add_argument("--port", type=int, default=config.SERVE_PORT)
    sub.add_parser("stop", help="stop everything the project started")
    sub.add_parser("env", help="print the environment Airflow commands need (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "demo":
        return demo(args.source)
    if args.command == "up":
        runtime.prepare()
        return 0
    if args.command == "psql":
        return psql(args.args)
    if args.command == "airflow":
        return airflow_services()
    if args.command == "serve":
        return serve(args.host, args.port)
    if args.command == "stop":
        return stop()
    runtime.configure_environment()
    shown = {k: "<secret>" if k == runtime.JWT_SECRET_ENV else v for k, v in os.environ.items()}
    print(json.dumps({k: v for k, v in shown.items() if k.startswith("AIRFLOW")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
