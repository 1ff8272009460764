-- raw.transaction_lines: both transaction layouts under one set of column names, so the
-- cleaning SQL reads one relation. A load lives in exactly one of the two tables.
create or replace view raw.transaction_lines as
select load_id, source_line_number, invoice_no, stock_code, description, quantity,
       invoice_date, unit_price, customer_id, country
  from raw.online_retail_lines
union all
select load_id, source_line_number, invoice as invoice_no, stock_code, description, quantity,
       invoice_date, price as unit_price, customer_id, country
  from raw.online_retail_ii_lines;
