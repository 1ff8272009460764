-- published.fct_returns for run %(run_id)s: every returned line of staging.returns, one
-- insert ... select. Grain: one row per return line.
insert into published.fct_returns (
    run_id, return_line_key, load_id, invoice_no, date_key, invoiced_at, customer_id, product_id,
    country, quantity, unit_price, amount, is_guest
)
select %(run_id)s, source_line_number, load_id, invoice_no, invoiced_at::date, invoiced_at,
       customer_id, product_id, country, quantity, unit_price, line_amount, is_guest
  from staging.returns
