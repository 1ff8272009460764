create table if not exists published.product_pairs (
    run_id                  text             not null,
    product_id              text             not null,
    other_product_id        text             not null,
    invoices                integer          not null,
    support                 double precision not null,
    confidence              double precision not null,
    lift                    double precision not null,
    product_invoices        integer          not null,
    other_product_invoices  integer          not null,
    total_invoices          integer          not null,
    primary key (run_id, product_id, other_product_id)
);
-- "what is bought with this product": pairs from either side, strongest first
create index if not exists product_pairs_other_product_idx
    on published.product_pairs (run_id, other_product_id);
create index if not exists product_pairs_lift_idx
    on published.product_pairs (run_id, lift desc);
