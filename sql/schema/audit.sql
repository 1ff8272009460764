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

comment on table audit.ingest_runs is
    'One row per ingestion run (dag_id, run_id): source, checksum, layout, rows landed, seconds per step, status.';

-- Raw rows number their source lines with this sequence: reset to 1 under an advisory lock
-- before each COPY, so the first data line (after the header) is line 2.
create sequence if not exists raw.source_line_seq as integer cache 100000;

-- audit.task_failures: one row per failed task attempt, written by the tasks' failure callback.
create table if not exists audit.task_failures (
    failure_id   bigint generated always as identity primary key,
    dag_id       text        not null,
    run_id       text        not null,
    task_id      text        not null,
    try_number   integer,
    error        text,
    runbook_url  text        not null,
    failed_at    timestamptz not null default now()
);

comment on table audit.task_failures is
    'One row per failed task attempt: task, run, error and the runbook section to follow.';

-- audit.task_runs: one row per successful task attempt (the success callback), for durations.
create table if not exists audit.task_runs (
    dag_id       text        not null,
    run_id       text        not null,
    task_id      text        not null,
    try_number   integer,
    seconds      numeric(12, 3),
    finished_at  timestamptz not null default now(),
    primary key (dag_id, run_id, task_id)
);

-- audit.pipeline_runs: one row per publication of the marts (publish_marts DAG run).
create table if not exists audit.pipeline_runs (
    run_id                  text primary key,
    load_id                 integer,
    source                  text,
    source_sha256           text,
    layout                  text,
    rows_raw                bigint,
    rows_clean              bigint,
    rows_returns            bigint,
    rows_rejected           bigint,
    customers_segmented     bigint,
    chosen_k                integer,
    silhouette              numeric(8, 4),
    discover_ndcg_at_10     numeric(8, 4),
    buy_again_ndcg_at_10    numeric(8, 4),
    status                  text        not null,
    seconds_by_dag          jsonb       not null default '{}'::jsonb,
    published_at            timestamptz not null default now()
);

-- audit.schema_migrations: digests of the sql/schema files applied to this database (see
-- include.db.connection.ensure_schema: unchanged files apply nothing, so tasks take no DDL locks).
create table if not exists audit.schema_migrations (
    digest      text        primary key,
    applied_at  timestamptz not null default now()
);
