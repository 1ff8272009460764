create table if not exists published.product_similarity (
    run_id                       text             not null,
    product_id                   text             not null,
    method                       text             not null check (method in ('content', 'co_purchase')),
    rank                         integer          not null check (rank >= 1),
    similar_product_id           text             not null,
    score                        double precision not null,
    product_description          text             not null,
    similar_product_description  text             not null,
    primary key (run_id, product_id, method, rank)
);
