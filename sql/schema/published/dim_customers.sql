-- Star schema (marts.dim_*, marts.fct_*): built by publish_marts from the snapshot it publishes
-- (staging of the load, the segments of the snapshot's segmentation run), one row set per
-- publish_marts run, switched on with every other mart (include/publish/marts.py STAR_MARTS).
-- Grain: one row per identified customer of staging.customers per run.
create table if not exists published.dim_customers (
    run_id               text           not null,
    customer_id          integer        not null,
    country              text           not null,
    first_purchase_date  date,
    last_purchase_date   date,
    recency_days         integer,
    frequency            integer,
    monetary             numeric(14, 2),
    segment_id           integer,
    segment_name         text,
    is_segmented         boolean        not null,
    primary key (run_id, customer_id)
);
-- slicing the facts by segment: the customers of one segment
create index if not exists dim_customers_segment_idx
    on published.dim_customers (run_id, segment_id, customer_id);
