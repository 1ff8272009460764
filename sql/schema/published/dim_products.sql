-- Grain: one row per product of staging.products (sold or only returned) per run.
create table if not exists published.dim_products (
    run_id               text           not null,
    product_id           text           not null,
    description          text           not null,
    product_group        text           not null,
    typical_unit_price   numeric(12, 3) not null,
    price_band           integer        not null,
    price_band_label     text           not null,
    first_sold_date      date,
    last_sold_date       date,
    units_sold           bigint         not null,
    is_sold              boolean        not null,
    primary key (run_id, product_id)
);
create index if not exists dim_products_group_idx
    on published.dim_products (run_id, product_group, product_id);
