-- Product recommendations (recommend_products DAG): the interactions the models learn from
-- (ml), the history of every published run (published.*) and the BI contract (marts.*): each
-- view shows the run published.current_runs points at (see schema/published.sql).

-- Grain: one row per identified customer per product per invoice day (clean sales only).
create table if not exists ml.customer_product_interactions (
    customer_id     integer        not null,
    product_id      text           not null,
    invoice_date    date           not null,
    invoices        integer        not null,  -- distinct invoices that day
    quantity        bigint         not null,
    amount          numeric(14, 2) not null,
    primary key (customer_id, product_id, invoice_date)
);
