-- Trend marts per segment and the run history, for BI. History in published.*, the latest
-- published run in marts.* (see schema/published.sql).
create table if not exists published.segment_monthly_trends (
    run_id             text          not null,
    month_date         date          not null,
    segment_id         integer       not null,
    segment_name       text          not null,
    revenue            numeric(14, 2) not null,
    returns_amount     numeric(14, 2) not null,
    net_revenue        numeric(14, 2) not null,
    orders             integer       not null,
    active_customers   integer       not null,
    primary key (run_id, segment_id, month_date)
);
