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

-- Grain: one row per identified customer (guests excluded).
create table if not exists staging.customers (
    load_id             integer   not null,
    customer_id         integer   primary key,
    country             text      not null,  -- the country of most of their lines
    first_invoice_at    timestamp not null,
    last_invoice_at     timestamp not null
);

-- Grain: one row per customer of the customer_personality layout (marketing_campaign.csv).
create table if not exists staging.customer_profiles (
    load_id              integer not null,
    source_line_number   integer not null,
    customer_id          integer primary key,
    birth_year           integer not null,
    education            text    not null,
    marital_status       text    not null,
    income               numeric(12, 2),          -- null where the source has none
    kids_at_home         integer not null,
    teens_at_home        integer not null,
    enrolled_on          date    not null,
    recency_days         integer not null,
    spend_wines          numeric(12, 2) not null,
    spend_fruits         numeric(12, 2) not null,
    spend_meat           numeric(12, 2) not null,
    spend_fish           numeric(12, 2) not null,
    spend_sweets         numeric(12, 2) not null,
    spend_gold           numeric(12, 2) not null,
    purchases_deals      integer not null,
    purchases_web        integer not null,
    purchases_catalog    integer not null,
    purchases_store      integer not null,
    web_visits_month     integer not null,
    accepted_campaigns   integer not null,        -- AcceptedCmp1..5 summed
    has_complained       boolean not null,
    has_responded        boolean not null
);

-- Grain: one row per rejected customer_personality line.
create table if not exists staging.rejected_profiles (
    load_id             integer not null,
    source_line_number  integer not null,
    reason_code         text    not null,
    reason              text    not null,
    raw_line            jsonb   not null,
    primary key (load_id, source_line_number)
);
