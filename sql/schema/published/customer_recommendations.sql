create table if not exists published.customer_recommendations (
    run_id         text             not null,
    customer_id    integer          not null,
    list_type      text             not null check (list_type in ('discover', 'buy_again')),
    rank           integer          not null check (rank >= 1),
    product_id     text             not null,
    description    text             not null,
    score          double precision not null,
    reason         text             not null,
    is_cold_start  boolean          not null
) partition by list (run_id);
-- One partition per run: created by plan_customer_blocks, filled by the mapped list blocks (bare),
-- indexed in bulk by publish_recommendations (include/publish/marts.py, Mart.partition_indexes):
-- the key (customer_id, list_type, rank), audited unique, and (product_id, list_type): "who is
-- this product recommended to", product filters in recommendation dashboards.
