-- Grain: one row per partition of a partitioned mart whose run left the history while a BI query
-- held the mart (its DROP gave up after LOCK_WAIT_SECONDS): the next publication drops it. Only
-- runs known to be gone are dropped by a publication; a run still being written (its partition
-- opened, not yet staged) is never touched by another DAG's publication.
create table if not exists published.stale_partitions (
    partition_name  text        primary key,
    mart            text        not null,
    noted_at        timestamptz not null default now()
);
