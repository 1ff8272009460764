-- Grain: one row per identified customer (guests excluded).
create table if not exists staging.customers (
    load_id             integer   not null,
    customer_id         integer   primary key,
    country             text      not null,  -- the country of most of their lines
    first_invoice_at    timestamp not null,
    last_invoice_at     timestamp not null
);
