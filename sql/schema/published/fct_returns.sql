-- Grain: one row per returned (cancelled) line of staging.returns per run; quantity and amount
-- positive (units and money returned).
create table if not exists published.fct_returns (
    run_id           text           not null,
    return_line_key  integer        not null,
    load_id          integer        not null,
    invoice_no       text           not null,
    date_key         date           not null,
    invoiced_at      timestamp      not null,
    customer_id      integer,
    product_id       text           not null,
    country          text           not null,
    quantity         integer        not null,
    unit_price       numeric(12, 3) not null,
    amount           numeric(14, 2) not null,
    is_guest         boolean        not null
) partition by list (run_id);
-- One partition per run (published.fct_returns__<digest of the run id>), created, loaded by one
-- insert ... select and then indexed in bulk by include/publish/marts.py (Mart.partition_indexes):
-- (date_key), (customer_id), (product_id) in each partition, which holds one run, i.e. the
-- (run_id, date_key), (run_id, customer_id), (run_id, product_id) indexes of the table; a run
-- leaves by dropping its partition. The key (return_line_key) is unique within a run: audited before
-- every publication (no unique index to maintain row by row).
