-- Grain: one row per product seen in order_lines or returns.
create table if not exists staging.products (
    load_id             integer   not null,
    product_id          text      primary key,
    description         text      not null,  -- canonical: the most used description
    description_variants integer  not null,
    first_sold_at       timestamp,
    last_sold_at        timestamp,
    units_sold          bigint    not null,
    is_sold             boolean   not null   -- false: only returns, no sales in this load
);
