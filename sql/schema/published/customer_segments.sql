-- requires: schema/ml/customer_features.sql
-- Marts of the transactions population.
-- Grain: one row per customer per run: the features the models were fitted on (every column of
-- ml.customer_features, its key and comments included) and the models' outputs.
create table if not exists published.customer_segments (
    like ml.customer_features including all,
    segment_id      integer          not null,
    segment_name    text             not null,
    kmeans_cluster  integer          not null,
    dbscan_cluster  integer          not null,
    is_outlier      boolean          not null,
    pca_x           double precision not null,
    pca_y           double precision not null
);
-- Warehouses created before the table carried every feature column: add what LIKE brings now.
alter table published.customer_segments add column if not exists first_invoice_at timestamp;
alter table published.customer_segments add column if not exists last_invoice_at timestamp;
alter table published.customer_segments add column if not exists units bigint;
-- Indexes for the queries Tableau issues against the marts views (see bench/bi_queries.py).
-- Every view filters its history table on the published run_id, so each index leads with run_id.
-- Primary keys already serve: customer_segments by customer, customer_recommendations by
-- customer, product_similarity by product, the trend marts by segment.

-- "customers of a segment", segment filters and the trend joins
create index if not exists customer_segments_segment_idx
    on published.customer_segments (run_id, segment_id, customer_id);
