-- staging: typed, cleaned rows of the latest cleaned load (every row carries its load_id).
-- Every raw row of a load ends in exactly one of: staging.order_lines, staging.returns,
-- staging.rejected_lines. Built by sql/staging/*.sql in one transaction per load.

-- Grain: one row per clean sale line of a product (guests included, is_guest = true).
create table if not exists staging.order_lines (
    load_id             integer        not null,
    source_line_number  integer        not null,
    invoice_no          text           not null,
    product_id          text           not null,  -- stock code, upper-case
    customer_id         integer,                  -- null for guest purchases
    is_guest            boolean        not null,
    country             text           not null,
    quantity            integer        not null check (quantity > 0),
    unit_price          numeric(12, 3) not null check (unit_price > 0),
    line_amount         numeric(14, 2) not null,  -- quantity * unit_price
    invoiced_at         timestamp      not null,  -- as in the source (UK local time)
    primary key (load_id, source_line_number)
);
