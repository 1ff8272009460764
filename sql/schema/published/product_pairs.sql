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
    total_invoices          integer          not null
) partition by list (run_id);
-- One partition per run, loaded bare and then indexed in bulk by include/publish/marts.py
-- (Mart.partition_indexes): (product_id, other_product_id), the key, audited unique before every
-- publication; (other_product_id) and (lift desc): "what is bought with this product" from
-- either side, strongest first. A run leaves by dropping its partition.
