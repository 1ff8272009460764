"""Write-audit-publish on a real table: the view shows the activated run only, a failed check
publishes nothing, and history keeps the newest RUNS_KEPT runs."""

from __future__ import annotations

import pandas as pd
import pytest

from include.publish import marts as publish

pytestmark = pytest.mark.integration

PROBE = publish.Mart("probe", ("item_id",))


@pytest.fixture
def probe(db):
    db.execute(
        "create table if not exists published.probe (run_id text not null, item_id integer, score numeric)"
    )
    db.execute(
        "create or replace view marts.probe as select run_id, item_id, score from published.probe"
        " where run_id = (select run_id from published.current_runs where mart = 'probe')"
    )
    yield "probe"
    db.execute("drop view marts.probe")
    db.execute("drop table published.probe")
    db.execute("delete from published.current_runs where mart = 'probe'")
    db.execute("delete from published.run_history where mart = 'probe'")


def _publish(warehouse, run_id: str, rows: list[tuple[int, float]], keep: int = 2) -> None:
    from include.db.connection import connect

    with connect(warehouse) as conn:
        frame = pd.DataFrame(rows, columns=["item_id", "score"])
        publish.write_run_rows(conn, "probe", run_id, frame)
        publish.publish(conn, [PROBE], run_id, keep=keep)


def test_view_shows_the_activated_run_and_history_is_bounded(probe, warehouse, db):
    _publish(warehouse, "r1", [(1, 0.5), (2, 0.25)])
    assert db.execute("select run_id, count(*) from marts.probe group by 1").fetchall() == [("r1", 2)]
    _publish(warehouse, "r2", [(1, 0.75)])
    _publish(warehouse, "r2", [(1, 0.75)])  # a rerun of the same run replaces its rows
    assert db.execute("select run_id, count(*) from marts.probe group by 1").fetchall() == [("r2", 1)]
    _publish(warehouse, "r3", [(3, 1.0)])
    kept = [r[0] for r in db.execute("select distinct run_id from published.probe order by 1")]
    assert kept == ["r2", "r3"]  # keep=2: r1 dropped


def test_failed_check_publishes_nothing(probe, warehouse, db):
    _publish(warehouse, "good", [(1, 0.5)])
    with pytest.raises(
        publish.PublishCheckError, match=r"marts.probe: 1 duplicate key\(s\) on \(item_id\) in run bad"
    ):
        _publish(warehouse, "bad", [(1, 0.5), (1, 0.6)])
    with pytest.raises(publish.PublishCheckError, match="run empty produced no rows"):
        _publish(warehouse, "empty", [])
    assert db.execute("select run_id, item_id from marts.probe").fetchall() == [("good", 1)]
    assert (
        db.execute("select count(*) from published.probe where run_id in ('bad', 'empty')").fetchone()[0] == 0
    )


def test_a_declared_check_that_returns_rows_publishes_nothing(probe, warehouse, db):
    from psycopg import sql

    from include.db.connection import connect

    # The check: no negative score. Run "neg" has one (item 2, score -1): it must not publish.
    positive = publish.Mart(
        "probe",
        ("item_id",),
        (
            publish.Check(
                "score >= 0",
                sql.SQL("select item_id, score from published.probe where run_id = %(run_id)s and score < 0"),
            ),
        ),
    )
    _publish(warehouse, "good", [(1, 0.5)])
    with connect(warehouse) as conn:
        publish.write_run_rows(
            conn, "probe", "neg", pd.DataFrame([(1, 0.5), (2, -1.0)], columns=["item_id", "score"])
        )
        with pytest.raises(
            publish.PublishCheckError, match=r"breaks the check 'score >= 0' \(item_id=2, score=-1"
        ):
            publish.publish(conn, [positive], "neg")
    assert db.execute("select run_id, item_id from marts.probe").fetchall() == [("good", 1)]
