create or replace view marts.fct_order_lines as
select run_id, order_line_key, load_id, invoice_no, date_key, invoiced_at, customer_id, product_id,
       country, quantity, unit_price, amount, is_guest
  from published.fct_order_lines
 where run_id = (select run_id from published.current_runs where mart = 'fct_order_lines');
comment on view marts.fct_order_lines is
    'Sales fact of the star schema: one row per clean sale line of staging.order_lines (guests included); reconciles with staging in rows and revenue.';
comment on column marts.fct_order_lines.run_id is 'publish_marts run that built these rows (one row per sale line per run).';
comment on column marts.fct_order_lines.order_line_key is 'Sale line key: the line number in the landed source file of the load; one row per sale line.';
comment on column marts.fct_order_lines.load_id is 'Raw load the line comes from (marts.pipeline_runs.load_id).';
comment on column marts.fct_order_lines.invoice_no is 'Invoice (order) number; an invoice has one or more lines.';
comment on column marts.fct_order_lines.date_key is 'Invoice day (marts.dim_dates.date_key).';
comment on column marts.fct_order_lines.invoiced_at is 'Invoice date and time as in the source (UK local time).';
comment on column marts.fct_order_lines.customer_id is 'Customer (marts.dim_customers.customer_id); null for a guest purchase.';
comment on column marts.fct_order_lines.product_id is 'Product (marts.dim_products.product_id).';
comment on column marts.fct_order_lines.country is 'Country of the line as in the source (guests have no dim_customers row).';
comment on column marts.fct_order_lines.quantity is 'Units sold (> 0).';
comment on column marts.fct_order_lines.unit_price is 'Unit price (> 0), in the source currency (GBP).';
comment on column marts.fct_order_lines.amount is 'Line revenue: quantity x unit price.';
comment on column marts.fct_order_lines.is_guest is 'True for a purchase without a customer id.';
