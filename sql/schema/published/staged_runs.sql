-- Grain: one row per mart per run whose rows passed their audit and wait for the end of their
-- pipeline. The last DAG of a pipeline (publish_marts for transactions) moves every mart's
-- pointer to its staged run in one transaction, so BI switches from one complete run to the
-- next; a later stage failing leaves BI on the previous complete run, and the staged rows stay
-- in published.<mart> under their run_id for inspection.
create table if not exists published.staged_runs (
    mart       text        not null,
    run_id     text        not null,
    dag_id     text        not null,
    load_id    integer,
    staged_at  timestamptz not null default now(),
    primary key (mart, run_id)
);
