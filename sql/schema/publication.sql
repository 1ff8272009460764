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

create table if not exists published.segment_weekday_hour_sales (
    run_id             text          not null,
    segment_id         integer       not null,
    segment_name       text          not null,
    iso_weekday        integer       not null,
    weekday_name       text          not null,
    hour_of_day        integer       not null,
    revenue            numeric(14, 2) not null,
    orders             integer       not null,
    order_lines        integer       not null,
    primary key (run_id, segment_id, iso_weekday, hour_of_day)
);

create or replace view marts.segment_monthly_trends as
select run_id, month_date, segment_id, segment_name, revenue, returns_amount, net_revenue, orders,
       active_customers
  from published.segment_monthly_trends
 where run_id = (select run_id from published.current_runs where mart = 'segment_monthly_trends');

comment on view marts.segment_monthly_trends is
    'Monthly sales per customer segment: one row per segment per calendar month (latest published run).';
comment on column marts.segment_monthly_trends.run_id is 'Run that published these rows (publish_marts DAG run id).';
comment on column marts.segment_monthly_trends.month_date is 'First day of the calendar month of the invoices.';
comment on column marts.segment_monthly_trends.segment_id is 'Segment (marts.customer_segments.segment_id).';
comment on column marts.segment_monthly_trends.segment_name is 'Human name of the segment.';
comment on column marts.segment_monthly_trends.revenue is 'Sum of clean sale line amounts (quantity x unit price).';
comment on column marts.segment_monthly_trends.returns_amount is 'Sum of returned (cancelled) line amounts.';
comment on column marts.segment_monthly_trends.net_revenue is 'revenue - returns_amount.';
comment on column marts.segment_monthly_trends.orders is 'Distinct sale invoices.';
comment on column marts.segment_monthly_trends.active_customers is 'Distinct customers with at least one sale that month.';

create or replace view marts.segment_weekday_hour_sales as
select run_id, segment_id, segment_name, iso_weekday, weekday_name, hour_of_day, revenue, orders,
       order_lines
  from published.segment_weekday_hour_sales
 where run_id = (select run_id from published.current_runs where mart = 'segment_weekday_hour_sales');

comment on view marts.segment_weekday_hour_sales is
    'When each segment buys: one row per segment per weekday per hour of day (latest published run).';
comment on column marts.segment_weekday_hour_sales.run_id is 'Run that published these rows (publish_marts DAG run id).';
comment on column marts.segment_weekday_hour_sales.segment_id is 'Segment (marts.customer_segments.segment_id).';
comment on column marts.segment_weekday_hour_sales.segment_name is 'Human name of the segment.';
comment on column marts.segment_weekday_hour_sales.iso_weekday is 'ISO weekday of the invoice: 1 = Monday ... 7 = Sunday.';
comment on column marts.segment_weekday_hour_sales.weekday_name is 'Weekday name (Monday ... Sunday).';
comment on column marts.segment_weekday_hour_sales.hour_of_day is 'Hour of the invoice time, 0-23 (source local time).';
comment on column marts.segment_weekday_hour_sales.revenue is 'Sum of clean sale line amounts.';
comment on column marts.segment_weekday_hour_sales.orders is 'Distinct sale invoices.';
comment on column marts.segment_weekday_hour_sales.order_lines is 'Clean sale lines.';

create or replace view marts.pipeline_runs as
select run_id, load_id, source, source_sha256, layout, rows_raw, rows_clean, rows_returns,
       rows_rejected, customers_segmented, chosen_k, silhouette, discover_ndcg_at_10,
       buy_again_ndcg_at_10, status, seconds_by_dag, published_at
  from audit.pipeline_runs;

comment on view marts.pipeline_runs is
    'Run history: one row per publication of the marts (publish_marts DAG run), newest last.';
comment on column marts.pipeline_runs.run_id is 'publish_marts DAG run id.';
comment on column marts.pipeline_runs.load_id is 'Raw load the run was built from (audit.ingest_runs).';
comment on column marts.pipeline_runs.source is 'Source the load was pulled from (Kaggle slug, path or URL).';
comment on column marts.pipeline_runs.source_sha256 is 'sha256 of the landed source file.';
comment on column marts.pipeline_runs.layout is 'Source layout (online_retail, online_retail_ii, customer_personality).';
comment on column marts.pipeline_runs.rows_raw is 'Raw lines landed.';
comment on column marts.pipeline_runs.rows_clean is 'Clean sale lines in staging.';
comment on column marts.pipeline_runs.rows_returns is 'Return lines in staging.';
comment on column marts.pipeline_runs.rows_rejected is 'Rejected lines (each with a reason code).';
comment on column marts.pipeline_runs.customers_segmented is 'Customers in marts.customer_segments.';
comment on column marts.pipeline_runs.chosen_k is 'Number of K-means segments chosen.';
comment on column marts.pipeline_runs.silhouette is 'Silhouette of the chosen segmentation.';
comment on column marts.pipeline_runs.discover_ndcg_at_10 is 'NDCG@10 of the hybrid discover list on the held-out month.';
comment on column marts.pipeline_runs.buy_again_ndcg_at_10 is 'NDCG@10 of the hybrid buy-again list on the held-out month.';
comment on column marts.pipeline_runs.status is 'success, or failed with the stage that failed.';
comment on column marts.pipeline_runs.seconds_by_dag is 'Seconds per DAG of the run (sum of task durations), JSON.';
comment on column marts.pipeline_runs.published_at is 'When the marts of this run were published (UTC).';
