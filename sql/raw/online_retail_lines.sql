-- raw.online_retail_lines: UCI Online Retail (Kaggle carrie1/ecommerce-data), as landed: every source column as text.
-- Grain: one row per data line of the landed file per load (load_id -> audit.ingest_runs).
create table if not exists raw.online_retail_lines (
    load_id             integer not null default current_setting('ingest.load_id')::integer,
    source_line_number  integer not null default nextval('raw.source_line_seq'),
    invoice_no          text,
    stock_code          text,
    description         text,
    quantity            text,
    invoice_date        text,
    unit_price          text,
    customer_id         text,
    country             text
);
