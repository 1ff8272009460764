"""The runbook has a section for every task of every DAG: the failure callback's link
(include.orchestration.runbook_url) must land on it."""

from __future__ import annotations

import re

import pytest

from include import config
from include.orchestration import runbook_url

pytestmark = pytest.mark.unit

RUNBOOK = config.PROJECT_ROOT / "docs" / "runbook.md"
ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
# What on-call needs in every task's section.
REQUIRED = ("**Does**", "**Fails with**", "**Rerun**", "**Check after**")


def sections(text: str) -> dict[str, str]:
    """{anchor: the text from it to the next anchor}."""
    marks = list(ANCHOR.finditer(text))
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return {m.group(1): text[m.end() : end] for m, end in zip(marks, ends, strict=True)}


@pytest.fixture(scope="module")
def dag_tasks() -> dict[str, list[str]]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(config.PROJECT_ROOT / "dags"))
    assert bag.dags, "no DAG parsed from dags/"
    return {dag_id: sorted(dag.task_ids) for dag_id, dag in bag.dags.items()}


def test_sections_parse_anchors():
    # Two anchors, the second section ends the text.
    text = '<a id="a"></a>\nfirst\n<a id="b-c"></a>\nsecond'
    assert sections(text) == {"a": "\nfirst\n", "b-c": "\nsecond"}


def test_every_task_has_its_runbook_section(dag_tasks):
    found = sections(RUNBOOK.read_text(encoding="utf-8"))
    missing, incomplete = [], []
    for dag_id, task_ids in dag_tasks.items():
        for task_id in task_ids:
            anchor = runbook_url(dag_id, task_id).rsplit("#", 1)[1]
            if anchor not in found:
                missing.append(f"{dag_id}.{task_id} (#{anchor})")
            elif absent := [part for part in REQUIRED if part not in found[anchor]]:
                incomplete.append(f"#{anchor} lacks {absent}")
    assert not missing, f"docs/runbook.md has no section for: {missing}"
    assert not incomplete, f"incomplete runbook sections: {incomplete}"


def test_every_dag_has_a_section_and_anchors_are_unique(dag_tasks):
    anchors = ANCHOR.findall(RUNBOOK.read_text(encoding="utf-8"))
    assert len(anchors) == len(set(anchors)), "duplicate anchors in docs/runbook.md"
    assert "3am-checklist" in anchors
    for dag_id in dag_tasks:
        assert dag_id.replace("_", "-") in anchors, f"no section for the DAG {dag_id}"
