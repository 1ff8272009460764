"""Run Great Expectations suites against the warehouse tables, in SQL (nothing is pulled into
memory), and keep the Data Docs of every run under `<RUNS_DIR>/<run_id>/data_docs/`."""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from include import config
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
    hard, soft, total = [], [], 0
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
            )
        )
        step = time.monotonic()
        table = f"{target.schema}.{target.table}" + (f" (load {load_id})" if target.by_load else "")
        try:
            outcome = checkpoint.run(batch_parameters=params)
        except NoAvailableBatchesError as err:
            raise ValidationFailed(
                f"{label}: {table}: expect_table_row_count_to_be_between(min_value=1): the load has no rows"
            ) from err
        for run_result in outcome.run_results.values():
            for result in run_result.results:
                total += 1
                if result.success:
                    continue
                severity = (result.expectation_config.meta or {}).get("severity", "hard")
                (hard if severity == "hard" else soft).append(_describe(result, table))
        log.info("suite %s on %s: %.2f s", target.suite.name, table, time.monotonic() - step)
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
