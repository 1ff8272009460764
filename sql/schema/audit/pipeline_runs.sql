-- audit.pipeline_runs: one row per publication of the marts (publish_marts DAG run); is_current
-- marks the one whose snapshot BI sees.
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
alter table audit.pipeline_runs add column if not exists segments_run_id text;
alter table audit.pipeline_runs add column if not exists recommendations_run_id text;
alter table audit.pipeline_runs add column if not exists is_current boolean not null default false;
