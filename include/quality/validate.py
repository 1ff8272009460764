"""Run Great Expectations suites against the warehouse tables, in SQL (nothing is pulled into
memory), keep the Data Docs of every run under `<RUNS_DIR>/<run_id>/data_docs/`, and the result
of every expectation in `audit.data_quality_results` (the data-quality history BI reads as
`marts.data_quality_runs`), failed validations included."""

from __future__ import annotations

import json
import logging
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from include import config
from include.db.watch import engine_statements_watched
from include.errors import BadInputError

if TYPE_CHECKING:  # importing great_expectations costs seconds: only where a suite runs
    from include.quality.suites import SuiteTarget

log = logging.getLogger(__name__)


class ValidationFailed(BadInputError, ValueError):
    """A hard expectation failed: the message names table, column, rule and count."""


@dataclass(frozen=True)
class ValidationReport:
    suites: int
    expectations: int
    hard_failures: list[str]
    soft_failures: list[str]
    data_docs: str
    seconds: float

    def to_xcom(self) -> dict:
        return asdict(self)


def run_scoped_dir(run_id: str, *parts: str) -> Path:
    """A folder for one DAG run's artefacts (run ids hold ':' and '+': made file-system safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    path = config.RUNS_DIR.joinpath(safe, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _describe(result, table: str) -> str:
    cfg = result.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in {"batch_id", "unexpected_rows_query"}}
    what = cfg.description or f"{cfg.type}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    res = result.result or {}
    count = res.get("unexpected_count")
    observed = res.get("observed_value")
    detail = f"{count} unexpected" if count is not None else f"observed {observed!r}"
    sample = res.get("partial_unexpected_list") or []
    if sample:
        detail += f", e.g. {sample[:3]!r}"
    if result.exception_info and result.exception_info.get("raised_exception"):
        detail = f"error: {result.exception_info.get('exception_message')}"
    return f"{table}: {what}: {detail}"


# Every expectation's counts, without its example values: GX fetches examples with a `limit 20`
# query per expectation, which scans the whole table when (as usual) no row breaks the rule. A
# suite that fails runs again WITH_EXAMPLES, so messages and Data Docs still show the values.
COUNTS_ONLY = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
WITH_EXAMPLES = "SUMMARY"

# Arguments GX adds itself, left out of the recorded kwargs.
_INTERNAL_KWARGS = {"batch_id"}
# Expectations whose "observed value" is the number of rows that broke them.
_COUNTS_OBSERVED = {"unexpected_rows_expectation"}


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def _error_message(info: dict) -> str | None:
    """The exception message of a result's exception_info: flat, or keyed by metric."""
    if "raised_exception" in info:
        return info.get("exception_message") if info["raised_exception"] else None
    nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return "; ".join(str(v.get("exception_message")) for v in nested) or None


def result_row(result, index: int, suite_name: str, stage: str, table: str) -> dict:
    """One audit.data_quality_results row (without run and load) from a GX ExpectationValidationResult."""
    cfg = result.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in _INTERNAL_KWARGS}
    column = kwargs.get("column") or (", ".join(kwargs["column_list"]) if kwargs.get("column_list") else None)
    res = result.result or {}
    observed = res.get("observed_value")
    unexpected = res.get("unexpected_count")
    if unexpected is None and cfg.type in _COUNTS_OBSERVED and isinstance(observed, int):
        unexpected = observed
    error = _error_message(result.exception_info or {})
    percent = res.get("unexpected_percent")
    return {
        "stage": stage,
        "table_name": table,
        "suite_name": suite_name,
        "expectation_index": index,
        "expectation_type": cfg.type,
        "column_name": column,
        "expectation_kwargs": _json(kwargs),
        "description": cfg.description,
        "severity": (cfg.meta or {}).get("severity", "hard"),
        "success": bool(result.success),
        "element_count": res.get("element_count"),
        "unexpected_count": unexpected,
        "unexpected_percent": None if percent is None else round(float(percent), 4),
        "observed_value": observed if observed is None or isinstance(observed, str) else _json(observed),
        "exception_message": error,
    }


def _suite_index(suite) -> dict:
    """expectation id -> its position in the suite, from 1 (results may come back in another order)."""
    return {e.id: i for i, e in enumerate(suite.expectations, start=1)}


def record_results(run_id: str, load_id: int | None, rows: list[dict]) -> int:
    """Replace the rows of this DAG run's suites in audit.data_quality_results with `rows` (a
    rerun of the same run keeps its latest attempt); one transaction. Returns the rows written."""
    from include.db.connection import connect

    if not rows:
        return 0
    suites = sorted({r["suite_name"] for r in rows})
    params = [{**r, "dag_run_id": run_id, "load_id": load_id} for r in rows]
    with connect() as conn:
        conn.execute(
            "delete from audit.data_quality_results where dag_run_id = %s and suite_name = any(%s)",
            (run_id, suites),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into audit.data_quality_results (dag_run_id, load_id, stage, table_name, suite_name,"
                " expectation_index, expectation_type, column_name, expectation_kwargs, description, severity,"
                " success, element_count, unexpected_count, unexpected_percent, observed_value,"
                " exception_message) values (%(dag_run_id)s, %(load_id)s, %(stage)s, %(table_name)s,"
                " %(suite_name)s, %(expectation_index)s, %(expectation_type)s, %(column_name)s,"
                " %(expectation_kwargs)s, %(description)s, %(severity)s, %(success)s, %(element_count)s,"
                " %(unexpected_count)s, %(unexpected_percent)s, %(observed_value)s, %(exception_message)s)",
                params,
            )
    log.info("audit.data_quality_results: %d expectation results of run %s", len(rows), run_id)
    return len(rows)


def _no_rows_row(suite, stage: str, table: str) -> dict:
    """The row-count expectation of a suite whose batch has no rows at all (GX finds no batch)."""
    index = next(
        (
            i
            for i, e in enumerate(suite.expectations, start=1)
            if e.expectation_type == "expect_table_row_count_to_be_between"
        ),
        0,
    )
    return {
        "stage": stage,
        "table_name": table,
        "suite_name": suite.name,
        "expectation_index": index,
        "expectation_type": "expect_table_row_count_to_be_between",
        "column_name": None,
        "expectation_kwargs": _json({"min_value": 1}),
        "description": None,
        "severity": "hard",
        "success": False,
        "element_count": 0,
        "unexpected_count": None,
        "unexpected_percent": None,
        "observed_value": "0",
        "exception_message": "the load has no rows",
    }


def validate(
    build_targets: Callable[[], list[SuiteTarget]], run_id: str, label: str, load_id: int | None = None
) -> ValidationReport:
    """Validate every target `build_targets()` gives (suites are built once the GX context
    exists); raise ValidationFailed on any failed hard expectation."""
    import great_expectations as gx
    from great_expectations.exceptions.exceptions import NoAvailableBatchesError

    from include.db.connection import sqlalchemy_url

    warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")  # add_sql on purpose
    started = time.monotonic()
    docs_dir = run_scoped_dir(run_id, "data_docs")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    context.add_data_docs_site(
        site_name="run",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_sql(name="warehouse", connection_string=sqlalchemy_url())
    targets = build_targets()
    hard, soft, total, rows = [], [], 0, []
    for target in targets:
        from great_expectations.core.partitioners import PartitionerColumnValue

        asset = source.add_table_asset(
            name=f"{target.schema}.{target.table}", table_name=target.table, schema_name=target.schema
        )
        if target.by_load:
            # one load of a raw table per batch, selected with batch_parameters (bound, not spliced)
            batch = asset.add_batch_definition(
                name="by_load",
                partitioner=PartitionerColumnValue(column_name="load_id"),
                validate_partitioner=False,
            )
            params = {"load_id": load_id}
        else:
            batch = asset.add_batch_definition_whole_table(name="whole_table")
            params = {}
        suite = context.suites.add(target.suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"validate_{target.table}", data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"checkpoint_{target.table}",
                validation_definitions=[definition],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["run"])],
                result_format=COUNTS_ONLY,
            )
        )
        step = time.monotonic()
        qualified = f"{target.schema}.{target.table}"
        table = qualified + (f" (load {load_id})" if target.by_load else "")
        try:
            with engine_statements_watched(f"suite {target.suite.name} on {table}"):
                outcome = checkpoint.run(batch_parameters=params)
                if not outcome.success:  # again with example values, for the message and the Data Docs
                    checkpoint.result_format = WITH_EXAMPLES
                    checkpoint.save()
                    outcome = checkpoint.run(batch_parameters=params)
        except NoAvailableBatchesError as err:
            record_results(run_id, load_id, [*rows, _no_rows_row(suite, target.schema, qualified)])
            raise ValidationFailed(
                f"{label}: {table}: expect_table_row_count_to_be_between(min_value=1): the load has no rows"
            ) from err
        positions = _suite_index(suite)
        for run_result in outcome.run_results.values():
            for result in run_result.results:
                total += 1
                position = positions.get(result.expectation_config.id, len(positions) + total)
                rows.append(result_row(result, position, suite.name, target.schema, qualified))
                if result.success:
                    continue
                severity = (result.expectation_config.meta or {}).get("severity", "hard")
                (hard if severity == "hard" else soft).append(_describe(result, table))
        log.info("suite %s on %s: %.2f s", target.suite.name, table, time.monotonic() - step)
    record_results(run_id, load_id, rows)
    index = docs_dir / "index.html"
    report = ValidationReport(
        len(targets), total, hard, soft, str(index), round(time.monotonic() - started, 3)
    )
    for problem in soft:
        log.warning("%s: soft expectation failed (rows will be rejected with a reason): %s", label, problem)
    log.info("Data Docs: %s", index)
    if hard:
        raise ValidationFailed(
            f"{label}: {len(hard)} hard expectation(s) failed:\n  "
            + "\n  ".join(hard)
            + f"\nData Docs: {index}"
        )
    log.info(
        "%s: %d expectations in %d suites passed (%d soft warnings)", label, total, len(targets), len(soft)
    )
    return report
