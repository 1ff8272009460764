-- published.fct_order_lines for run %(run_id)s: every clean sale line of staging.order_lines,
-- one insert ... select (no rows through Python), keys to dim_customers (null for guests),
-- dim_products and dim_dates. Grain: one row per clean sale line.
insert into published.fct_order_lines (
    run_id, order_line_key, load_id, invoice_no, date_key, invoiced_at, customer_id, product_id,
    country, quantity, unit_price, amount, is_guest
)
select %(run_id)s, source_line_number, load_id, invoice_no, invoiced_at::date, invoiced_at,
       customer_id, product_id, country, quantity, unit_price, line_amount, is_guest
  from staging.order_lines
