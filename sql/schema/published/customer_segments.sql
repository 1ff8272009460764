-- ---------------------------------------------------------------------------------------------
-- Marts of the transactions population.
create table if not exists published.customer_segments (
    run_id                   text           not null,
    customer_id              integer        not null,
    segment_id               integer        not null,
    segment_name             text           not null,
    kmeans_cluster           integer        not null,
    dbscan_cluster           integer        not null,
    is_outlier               boolean        not null,
    pca_x                    double precision not null,
    pca_y                    double precision not null,
    as_of_date               date           not null,
    country                  text           not null,
    recency_days             integer        not null,
    frequency                integer        not null,
    monetary                 numeric(14, 2) not null,
    gross_revenue            numeric(14, 2) not null,
    returns_amount           numeric(14, 2) not null,
    tenure_days              integer        not null,
    avg_basket_value         numeric(14, 2) not null,
    distinct_products        integer        not null,
    return_rate              numeric(8, 4)  not null,
    avg_days_between_orders  numeric(10, 2),
    primary key (run_id, customer_id)
);
-- Indexes for the queries Tableau issues against the marts views (see bench/bi_queries.py).
-- Every view filters its history table on the published run_id, so each index leads with run_id.
-- Primary keys already serve: customer_segments by customer, customer_recommendations by
-- customer, product_similarity by product, the trend marts by segment.

-- "customers of a segment", segment filters and the trend joins
create index if not exists customer_segments_segment_idx
    on published.customer_segments (run_id, segment_id, customer_id);
