-- Customer segmentation (segment_customers DAG): features in ml.*, run summaries in ml.*, and the
-- BI marts as history tables published.* (one row set per run) + views marts.* on the run
-- published.current_runs points at (write-audit-publish, see schema/published.sql).
-- Two populations: 'transactions' (Online Retail customers, staging.order_lines) and
-- 'customer_profiles' (customer_personality layout, staging.customer_profiles).

-- ml.customer_features: built by sql/ml/customer_features.sql.
-- Grain: one row per customer with at least one sale before the as-of date, per run.
create table if not exists ml.customer_features (
    run_id                   text           not null,
    customer_id              integer        not null,
    as_of_date               date           not null,
    country                  text           not null,
    first_invoice_at         timestamp      not null,
    last_invoice_at          timestamp      not null,
    recency_days             integer        not null,
    frequency                integer        not null,
    monetary                 numeric(14, 2) not null,
    gross_revenue            numeric(14, 2) not null,
    returns_amount           numeric(14, 2) not null,
    tenure_days              integer        not null,
    avg_basket_value         numeric(14, 2) not null,
    distinct_products        integer        not null,
    units                    bigint         not null,
    return_rate              numeric(8, 4)  not null,
    avg_days_between_orders  numeric(10, 2),
    primary key (run_id, customer_id)
);
