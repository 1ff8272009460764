"""The steps each DAG calls: `include/tasks/<dag_id>.py` for `dags/<dag_id>.py`.

Every step is one function that reads and writes warehouse tables and returns small metadata
for XCom. The computation lives in the domain packages (`ingest`, `quality`, `transform`, `ml`,
`publish`); its runbook section is `docs/runbook.md#<dag_id>`.
"""
