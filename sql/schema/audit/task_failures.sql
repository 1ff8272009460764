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
