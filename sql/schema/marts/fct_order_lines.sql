create or replace view marts.fct_order_lines as
select run_id, order_line_key, load_id, invoice_no, date_key, invoiced_at, customer_id, product_id,
       country, quantity, unit_price, amount, is_guest
  from published.fct_order_lines
 where run_id = (select run_id from published.current_runs where mart = 'fct_order_lines');
