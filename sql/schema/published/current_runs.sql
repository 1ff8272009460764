-- Published results, write-audit-publish style.
-- Every mart M has a history table published.M (one row set per run, keyed by run_id) and a
-- view marts.M that shows the rows of the run published.current_runs points at. A run writes
-- its rows, checks them, then moves the pointers of its marts in one transaction: readers
-- see the previous run or the new one, never a mix, never a half-written table.
-- Grain: one row per mart.
create table if not exists published.current_runs (
    mart          text primary key,
    run_id        text        not null,
    published_at  timestamptz not null default now()
);
