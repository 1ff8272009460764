-- audit.ingest_runs: one row per ingestion DAG run (a rerun of the same run updates its row).
-- load_id is the key raw rows carry; the run id and the source checksum live here.
create table if not exists audit.ingest_runs (
    load_id         integer generated always as identity primary key,
    dag_id          text        not null,
    run_id          text        not null,
    source          text        not null,
    source_kind     text,
    file_name       text,
    source_sha256   text,
    source_bytes    bigint,
    layout          text,
    rows_landed     bigint,
    status          text        not null default 'running'
        check (status in ('running', 'success', 'failed')),
    error           text,
    step_seconds    jsonb       not null default '{}'::jsonb,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    unique (dag_id, run_id)
);
