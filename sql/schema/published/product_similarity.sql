create table if not exists published.product_similarity (
    run_id                       text             not null,
    product_id                   text             not null,
    method                       text             not null check (method in ('content', 'co_purchase')),
    rank                         integer          not null check (rank >= 1),
    similar_product_id           text             not null,
    score                        double precision not null,
    product_description          text             not null,
    similar_product_description  text             not null
) partition by list (run_id);
-- One partition per run: created by plan_product_blocks, filled by the mapped similarity blocks
-- (bare), indexed in bulk on the key (product_id, method, rank) by publish_recommendations,
-- which audits the key unique (include/publish/marts.py, Mart.partition_indexes).
