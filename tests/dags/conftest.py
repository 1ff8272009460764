"""One DagBag of dags/ for the DAG tests, parsed once. DAGs are read from `dagbag.dags`:
`DagBag.get_dag()` asks Airflow's metadata database, and these tests run without a server."""

from __future__ import annotations

import pytest

from include import config


@pytest.fixture(scope="session")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(config.PROJECT_ROOT / "dags"))
