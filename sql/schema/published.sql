-- Published results, write-audit-publish style.
-- Every mart M has a history table published.M (one row set per run, keyed by run_id) and a
-- view marts.M that shows the rows of the run published.current_runs points at. A run writes
-- its rows, checks them, then moves the pointers of all its marts in one transaction: readers
-- see the previous run or the new one, never a mix, never a half-written table.
create schema if not exists published;

create table if not exists published.current_runs (
    mart          text primary key,
    run_id        text        not null,
    published_at  timestamptz not null default now()
);

create table if not exists published.run_history (
    mart          text        not null,
    run_id        text        not null,
    published_at  timestamptz not null default now(),
    primary key (mart, run_id)
);
