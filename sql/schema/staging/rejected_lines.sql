-- Grain: one row per raw line that is neither a clean sale nor a return, with the first rule
-- it broke (reason_code) and the raw text as landed.
create table if not exists staging.rejected_lines (
    load_id             integer not null,
    source_line_number  integer not null,
    reason_code         text    not null,
    reason              text    not null,
    invoice_no          text,
    stock_code          text,
    description         text,
    quantity            text,
    invoice_date        text,
    unit_price          text,
    customer_id         text,
    country             text,
    primary key (load_id, source_line_number)
);
