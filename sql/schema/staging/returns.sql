-- Grain: one row per cancelled (returned) product line: invoice number starting with 'C'.
-- quantity and line_amount are positive here (units and money returned).
create table if not exists staging.returns (
    load_id             integer        not null,
    source_line_number  integer        not null,
    invoice_no          text           not null,
    product_id          text           not null,
    customer_id         integer,
    is_guest            boolean        not null,
    country             text           not null,
    quantity            integer        not null check (quantity > 0),
    unit_price          numeric(12, 3) not null check (unit_price >= 0),
    line_amount         numeric(14, 2) not null,
    invoiced_at         timestamp      not null,
    primary key (load_id, source_line_number)
);
