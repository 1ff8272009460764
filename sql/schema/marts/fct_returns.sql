create or replace view marts.fct_returns as
select run_id, return_line_key, load_id, invoice_no, date_key, invoiced_at, customer_id,
       product_id, country, quantity, unit_price, amount, is_guest
  from published.fct_returns
 where run_id = (select run_id from published.current_runs where mart = 'fct_returns');
comment on view marts.fct_returns is
    'Returns fact of the star schema: one row per returned (cancelled) line of staging.returns; quantity and amount positive.';
comment on column marts.fct_returns.run_id is 'publish_marts run that built these rows (one row per return line per run).';
comment on column marts.fct_returns.return_line_key is 'Return line key: the line number in the landed source file of the load; one row per return line.';
comment on column marts.fct_returns.load_id is 'Raw load the line comes from (marts.pipeline_runs.load_id).';
comment on column marts.fct_returns.invoice_no is 'Cancellation invoice number (starts with C).';
comment on column marts.fct_returns.date_key is 'Day of the cancellation (marts.dim_dates.date_key).';
comment on column marts.fct_returns.invoiced_at is 'Cancellation date and time as in the source (UK local time).';
comment on column marts.fct_returns.customer_id is 'Customer (marts.dim_customers.customer_id); null for a guest.';
comment on column marts.fct_returns.product_id is 'Product returned (marts.dim_products.product_id).';
comment on column marts.fct_returns.country is 'Country of the line as in the source.';
comment on column marts.fct_returns.quantity is 'Units returned (> 0).';
comment on column marts.fct_returns.unit_price is 'Unit price of the returned line, in the source currency (GBP).';
comment on column marts.fct_returns.amount is 'Money returned: quantity x unit price (> 0).';
comment on column marts.fct_returns.is_guest is 'True for a return without a customer id.';
