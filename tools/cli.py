"""Project commands behind the Makefile: `python -m tools.cli {demo,status,psql,airflow,stop,up,docs,hyper}`.

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
from dataclasses import dataclass
from pathlib import Path

from include import config
from tools import runtime

log = logging.getLogger("tools.cli")

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


# What a load of each layout family runs after ingestion, and why the rest has nothing to do.
STAGES_BY_POPULATION = {
    "transactions": PIPELINE,
    "customer_profiles": ("ingest_ecommerce", "validate_and_clean", "segment_customers"),
}
NOTHING_NEW = {
    "customer_profiles": {
        "recommend_products": "nothing new to do for layout {layout}: recommendations are built from "
        "transactions, and a customer-profile file holds none (the published recommendations are unchanged)",
        "publish_marts": "nothing new to do for layout {layout}: its marts (trends, pipeline_runs, Hyper "
        "extract) are built from transactions and recommendations, which this load did not change",
    }
}


@dataclass
class DagOutcome:
    dag_id: str
    run_id: str | None
    state: str
    seconds: float
    log_file: Path
    skipped: str | None = None  # the reason, when the stage had nothing new to do


def _run_dag(dag_id: str, conf: dict) -> DagOutcome:
    """Run one DAG end to end, its log going to .local/logs/demo-<dag_id>.log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_file = LOG_DIR / f"demo-{dag_id}.log"
    started = time.monotonic()
    print(f"--> {dag_id:<24} running (log: {log_file})", flush=True)
    with log_file.open("w") as out, _fds_to(out):
        try:
            run = runtime.run_dag(dag_id, conf)
            state, run_id = str(run.state), run.run_id
        except Exception:  # the DAG could not even run (import error, database down): say so below
            import traceback

            traceback.print_exc()
            state, run_id = "error", None
    seconds = time.monotonic() - started
    print(f"    {dag_id:<24} {state} in {seconds:.1f} s", flush=True)
    return DagOutcome(dag_id, run_id, state, seconds, log_file)


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


def demo(source: str, layout: str = "auto") -> int:
    """Run the pipeline on `source`: the stages its layout needs, then the summary of what this
    run produced. A failed stage prints its DAG, task, error and runbook link; exit code 1."""
    runtime.prepare()
    source_path = Path(source)
    if source_path.exists():
        source = str(source_path.resolve())
    print(f"==> running the pipeline on {source}", flush=True)
    outcomes = [_run_dag("ingest_ecommerce", {"source": source, "layout": layout})]
    if outcomes[0].state != "success":
        print(failure_report(outcomes[0], PIPELINE[1:]))
        return 1
    from include.tasks.segment_customers import POPULATION_BY_LAYOUT

    load = _load_of(outcomes[0])
    population = POPULATION_BY_LAYOUT.get(load["layout"], "transactions")
    stages = STAGES_BY_POPULATION[population]
    conf_by_dag = {
        "validate_and_clean": {"load_id": load["load_id"]},
        "segment_customers": {"population": population},
    }
    for index, dag_id in enumerate(PIPELINE[1:], start=1):
        if dag_id not in stages:
            reason = NOTHING_NEW[population][dag_id].format(layout=load["layout"])
            print(f"--> {dag_id:<24} skipped: {reason}", flush=True)
            outcomes.append(DagOutcome(dag_id, None, "skipped", 0.0, LOG_DIR / f"demo-{dag_id}.log", reason))
            continue
        outcome = _run_dag(dag_id, conf_by_dag.get(dag_id, {}))
        outcomes.append(outcome)
        if outcome.state != "success":
            print(failure_report(outcome, [d for d in PIPELINE[index + 1 :] if d in stages]))
            return 1
    print(summary(outcomes, load, population))
    return 0


def _load_of(outcome: DagOutcome) -> dict:
    """The load an ingest_ecommerce run wrote (audit.ingest_runs)."""
    from include.db.connection import connect

    with connect() as conn:
        row = conn.execute(
            "select load_id, layout, source, rows_landed, step_seconds, source_sha256 from audit.ingest_runs"
            " where dag_id = %s and run_id = %s",
            (outcome.dag_id, outcome.run_id),
        ).fetchone()
    keys = ("load_id", "layout", "source", "rows", "step_seconds", "sha256")
    return dict(zip(keys, row, strict=True))


# --- a failed run, explained -----------------------------------------------------------------


def task_failures(dag_id: str, run_id: str) -> list[dict]:
    """The failed tasks of a DAG run, last attempt of each, as the failure callback recorded them."""
    from include.db.connection import connect

    try:
        with connect() as conn:
            rows = conn.execute(
                "select distinct on (task_id) task_id, try_number, error, runbook_url, failed_at"
                " from audit.task_failures where dag_id = %s and run_id = %s"
                " order by task_id, failed_at desc",
                (dag_id, run_id),
            ).fetchall()
    except Exception as err:  # the warehouse may be what failed: fall back to Airflow's own record
        log.warning("could not read audit.task_failures: %s", err)
        return []
    keys = ("task_id", "try_number", "error", "runbook_url", "failed_at")
    return sorted((dict(zip(keys, r, strict=True)) for r in rows), key=lambda f: f["failed_at"])


def _failed_in_airflow(dag_id: str, run_id: str | None, log_file: Path) -> list[dict]:
    """When the callback could not write its row: the failed task instances from Airflow's
    metadata, and the last exception line of the run's log."""
    from include.orchestration import runbook_url

    failed: list[str] = []
    if run_id:
        try:
            from airflow.models.dagrun import DagRun
            from airflow.utils.state import TaskInstanceState

            runs = DagRun.find(dag_id=dag_id, run_id=run_id)
            tis = runs[0].get_task_instances(state=[TaskInstanceState.FAILED]) if runs else []
            failed = [ti.task_id for ti in tis]
        except Exception as err:
            log.warning("could not read the task instances of %s %s: %s", dag_id, run_id, err)
    error = _last_error_line(log_file)
    return [
        {"task_id": task_id, "try_number": None, "error": error, "runbook_url": runbook_url(dag_id, task_id)}
        for task_id in failed or ["(unknown task)"]
    ]


def _last_error_line(log_file: Path) -> str:
    import re

    pattern = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)): (.+)$")
    last = None
    if log_file.is_file():
        for line in log_file.read_text(errors="replace").splitlines():
            match = pattern.match(line.strip())
            if match:
                last = f"{match.group(1).rsplit('.', 1)[-1]}: {match.group(3)}"
    return last or f"no error message found: read {log_file}"


def failure_report(
    outcome: DagOutcome, not_run: list[str] | tuple[str, ...] = (), *, task_logs: bool = False
) -> str:
    """What failed, why, and where to read on: DAG, task, error, runbook link, log. `task_logs`:
    point at each task's log under the Airflow home (runs of the services) instead of the demo log."""
    failures = task_failures(outcome.dag_id, outcome.run_id) if outcome.run_id else []
    failures = failures or _failed_in_airflow(outcome.dag_id, outcome.run_id, outcome.log_file)
    lines = ["", f"=== {outcome.dag_id} {outcome.state} ==="]
    for failure in failures:
        attempt = f", try {failure['try_number']}" if failure.get("try_number") else ""
        lines += [
            f"failed       DAG {outcome.dag_id}, task {failure['task_id']} (run {outcome.run_id}{attempt})",
            f"error        {failure['error']}",
            f"runbook      {failure['runbook_url']}",
        ]
        if task_logs:
            folder = (
                config.AIRFLOW_HOME
                / "logs"
                / f"dag_id={outcome.dag_id}"
                / f"run_id={outcome.run_id}"
                / f"task_id={failure['task_id']}"
            )
            lines.append(f"log          {folder}/")
    if not task_logs:
        lines.append(
            f"log          {outcome.log_file}  (task logs also under {config.AIRFLOW_HOME / 'logs'})"
        )
    if not_run:
        lines.append(f"not run      {', '.join(not_run)} (they wait for this stage)")
    return "\n".join(lines)


# --- what a successful run produced ------------------------------------------------------------


def transaction_summary(conn, load: dict) -> list[str]:
    clean, returns, rejected, customers, products = conn.execute(
        "select (select count(*) from staging.order_lines), (select count(*) from staging.returns),"
        " (select count(*) from staging.rejected_lines), (select count(*) from staging.customers),"
        " (select count(*) from staging.products)"
    ).fetchone()
    reasons = conn.execute(
        "select reason_code, count(*) from staging.rejected_lines group by 1 order by 2 desc"
    ).fetchall()
    return [
        f"staging      {clean:>10,} clean lines  {returns:,} returns  {rejected:,} rejected"
        f"  ({customers:,} customers, {products:,} products)",
        "             rejected by reason: " + (", ".join(f"{code} {n:,}" for code, n in reasons) or "none"),
    ]


def profile_summary(conn, load: dict, segment_run_id: str | None) -> list[str]:
    """Staging and the customer-profile segments this run produced (marts.profile_segment_profiles)."""
    profiles, rejected = conn.execute(
        "select (select count(*) from staging.customer_profiles where load_id = %(id)s),"
        " (select count(*) from staging.rejected_profiles where load_id = %(id)s)",
        {"id": load["load_id"]},
    ).fetchone()
    reasons = conn.execute(
        "select reason_code, count(*) from staging.rejected_profiles where load_id = %s group by 1 order by 2 desc",
        (load["load_id"],),
    ).fetchall()
    lines = [
        f"staging      {profiles:>10,} customer profiles  {rejected:,} rejected"
        + (" (" + ", ".join(f"{code} {n:,}" for code, n in reasons) + ")" if reasons else "")
    ]
    segments = conn.execute(
        "select segment_id, segment_name, customers, customer_share, spend_share, median_income, outliers"
        " from marts.profile_segment_profiles where run_id = %s order by segment_id",
        (segment_run_id,),
    ).fetchall()
    chosen = conn.execute(
        "select algorithm, k, silhouette from marts.profile_segmentation_metrics"
        " where run_id = %s and is_chosen limit 1",
        (segment_run_id,),
    ).fetchone()
    if not segments:
        return [
            *lines,
            f"segments     none visible in marts.profile_segment_profiles for run {segment_run_id}",
        ]
    if chosen:
        lines.append(f"segments     customer profiles: {chosen[0]} k={chosen[1]} silhouette {chosen[2]:.3f}")
    lines.append("             (marts.profile_segment_profiles)")
    for segment_id, name, customers, share, spend_share, income, outliers in segments:
        income_text = f"median income {income:,.0f}" if income is not None else "income unknown"
        lines.append(
            f"             {segment_id} {name:<26} {customers:>6,} customers ({share * 100:4.1f} %)"
            f"  spend share {spend_share * 100:4.1f} %  {income_text}  outliers {outliers:,}"
        )
    return lines


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
        rows = [(m, v) for lt, m, v in metrics if lt == list_type and v is not None]  # not evaluated: none
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


def _run_dir(run_id: str) -> Path:
    """A run's artefact folder, named as include.quality.validate.run_scoped_dir names it."""
    import re

    return config.RUNS_DIR / re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


def summary(outcomes: list[DagOutcome], load: dict, population: str = "transactions") -> str:
    """What this run produced, for the layout it loaded, and where to look next."""
    from include.db.connection import connect, redact, warehouse_uri

    by_dag = {o.dag_id: o for o in outcomes}
    lines = ["", "=== pipeline summary ==="]
    steps = load.get("step_seconds") or {}
    lines += [
        f"source       {load['source']} (layout {load['layout']}, sha256 {load['sha256'][:12]}...)",
        f"raw          {load['rows']:>10,} rows   load_id {load['load_id']}   "
        + "  ".join(f"{k} {v:.2f} s" for k, v in steps.items() if v is not None),
    ]
    with connect() as conn:
        if population == "customer_profiles":
            segment_run = by_dag.get("segment_customers")
            lines += profile_summary(conn, load, segment_run.run_id if segment_run else None)
        else:
            lines += transaction_summary(conn, load)
    if population == "transactions":
        lines += ml_summary()
    for outcome in outcomes:
        if outcome.skipped:
            lines.append(f"DAG {outcome.dag_id:<24}   skipped: {outcome.skipped}")
        else:
            lines.append(f"DAG {outcome.dag_id:<24} {outcome.seconds:6.1f} s")
    run_dirs = [_run_dir(o.run_id) for o in outcomes if o.run_id and _run_dir(o.run_id).is_dir()]
    for run_dir in run_dirs:
        if (run_dir / "data_docs" / "index.html").exists():
            lines.append(f"Data Docs    {run_dir / 'data_docs' / 'index.html'}")
        if (run_dir / "segmentation" / population).is_dir():
            lines.append(
                f"plots        {run_dir / 'segmentation' / population}/*.png"
                "  (elbow, silhouette, k-distance, PCA, profiles)"
            )
        if (run_dir / "tableau" / "marts.hyper").exists():
            lines.append(f"Hyper        {run_dir / 'tableau' / 'marts.hyper'}")
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


def latest_runs_report() -> tuple[str, bool]:
    """The newest run of every DAG (from Airflow's metadata), a failed one explained like
    `make demo` does; returns (text, whether any newest run failed)."""
    from airflow.models.dagrun import DagRun

    lines, failed = ["", "=== latest runs ==="], False
    reports = []
    for dag_id in PIPELINE:
        runs = DagRun.find(dag_id=dag_id)
        if not runs:
            lines.append(f"{dag_id:<24} no run yet")
            continue
        last = max(runs, key=lambda r: (r.start_date or r.queued_at or r.logical_date or 0, r.id))
        when = last.end_date or last.start_date
        lines.append(
            f"{dag_id:<24} {last.state:<8} {last.run_id}  {when:%Y-%m-%d %H:%M:%S} UTC"
            if when
            else f"{dag_id:<24} {last.state:<8} {last.run_id}"
        )
        if str(last.state) == "failed":
            failed = True
            outcome = DagOutcome(dag_id, last.run_id, "failed", 0.0, LOG_DIR / f"demo-{dag_id}.log")
            reports.append(failure_report(outcome, task_logs=True))
    return "\n".join(lines + reports), failed


def status() -> int:
    """Print the newest run of every DAG; exit 1 when one of them failed."""
    runtime.prepare()
    text, failed = latest_runs_report()
    print(text)
    return 1 if failed else 0


def psql(extra: list[str]) -> int:
    """Exec psql on the warehouse; standard input passes through."""
    runtime.configure_environment()
    if runtime.uses_embedded_server():
        from tools import embedded

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
    try:
        print(latest_runs_report()[0])
    except Exception as err:  # the report is a courtesy: the services are up regardless
        log.warning("could not read the latest runs: %s", err)
    print("stop everything with: make stop")
    return 0


def serve(host: str, port: int) -> int:
    """The recommendation API alone (the app the api-server mounts at /recommendations), in the
    foreground; tokens from the api-server's POST /auth/token are valid here (same JWT secret)."""
    runtime.configure_environment()
    if runtime.uses_embedded_server():
        from tools import embedded

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
    from tools import embedded

    if embedded.stop():
        print("stopped the embedded PostgreSQL")
    return 0


def docs() -> int:
    """Regenerate docs/data_dictionary.md and the Tableau data sources of every environment
    (docs/tableau/marts.tds, marts_compose.tds) from the warehouse's marts."""
    runtime.configure_environment()
    from include.db.connection import connect
    from tools import data_dictionary, tableau_tds

    with connect() as conn:
        text = data_dictionary.render(conn)
        paths = tableau_tds.write_data_sources(conn)
    config.DATA_DICTIONARY_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {config.DATA_DICTIONARY_PATH} ({text.count('## marts.')} relations)")
    for path in paths:
        print(f"wrote {path}")
    return 0


def hyper(out: Path) -> int:
    """Export the warehouse's marts to a Tableau Hyper extract at `out`."""
    runtime.configure_environment()
    from include.db.connection import connect
    from include.publish.tableau import export_hyper

    with connect() as conn:
        print(export_hyper(conn, out))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    demo_p = sub.add_parser("demo", help="run the whole pipeline and print a summary")
    demo_p.add_argument("--source", default=str(config.SAMPLE_SOURCE))
    demo_p.add_argument("--layout", default="auto", help="the source layout; auto detects it")
    sub.add_parser("up", help="start the embedded database and prepare Airflow")
    psql_p = sub.add_parser("psql", help="psql on the warehouse")
    psql_p.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("airflow", help="start the Airflow UI and services")
    sub.add_parser(
        "status", help="the newest run of every DAG; a failed one with its task, error and runbook"
    )
    serve_p = sub.add_parser("serve", help="the recommendation API alone (uvicorn, foreground)")
    serve_p.add_argument("--host", default="127.0.0.1")
    serve_p.add_argument("--port", type=int, default=config.SERVE_PORT)
    sub.add_parser("stop", help="stop everything the project started")
    sub.add_parser("docs", help="regenerate the data dictionary and the Tableau data source")
    hyper_p = sub.add_parser("hyper", help="export the marts to a Tableau Hyper extract")
    hyper_p.add_argument("out", nargs="?", type=Path, default=config.LOCAL_DIR / "marts.hyper")
    sub.add_parser("env", help="print the environment Airflow commands need (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "demo":
        return demo(args.source, args.layout or "auto")
    if args.command == "up":
        runtime.prepare()
        return 0
    if args.command == "psql":
        return psql(args.args)
    if args.command == "airflow":
        return airflow_services()
    if args.command == "status":
        return status()
    if args.command == "serve":
        return serve(args.host, args.port)
    if args.command == "stop":
        return stop()
    if args.command == "docs":
        return docs()
    if args.command == "hyper":
        return hyper(args.out)
    runtime.configure_environment()
    shown = {k: "<secret>" if k == runtime.JWT_SECRET_ENV else v for k, v in os.environ.items()}
    print(json.dumps({k: v for k, v in shown.items() if k.startswith("AIRFLOW")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
