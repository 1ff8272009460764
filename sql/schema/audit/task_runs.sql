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
