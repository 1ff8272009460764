-- Grain: one row per mart per published run (the newest RUNS_KEPT are kept).
create table if not exists published.run_history (
    mart          text        not null,
    run_id        text        not null,
    published_at  timestamptz not null default now(),
    primary key (mart, run_id)
);
