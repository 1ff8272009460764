"""Local tooling, outside the product package `include/` (which holds exactly what runs in an
Airflow worker): the embedded PostgreSQL, the local runtime set-up, the CLI behind the Makefile
and the sample builder. Nothing under include/ or dags/ imports it."""
