create table if not exists published.customer_recommendations (
    run_id         text             not null,
    customer_id    integer          not null,
    list_type      text             not null check (list_type in ('discover', 'buy_again')),
    rank           integer          not null check (rank >= 1),
    product_id     text             not null,
    description    text             not null,
    score          double precision not null,
    reason         text             not null,
    is_cold_start  boolean          not null,
    primary key (run_id, customer_id, list_type, rank)
);
-- "who is this product recommended to", product filters in recommendation dashboards
create index if not exists customer_recommendations_product_idx
    on published.customer_recommendations (run_id, product_id, list_type);
