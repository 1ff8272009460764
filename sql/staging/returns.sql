-- staging.returns: cancelled product lines ('C' invoices), linked to customer and product.
-- Grain: one row per returned line; quantity and line_amount positive.
insert into staging.returns (
    load_id, source_line_number, invoice_no, product_id, customer_id, is_guest, country,
    quantity, unit_price, line_amount, invoiced_at
)
select load_id,
       source_line_number,
       invoice_text,
       product_id,
       customer_key,
       customer_key is null,
       coalesce(country_text, 'Unspecified'),
       (-quantity_num)::integer,
       abs(price_num),
       round(-quantity_num * abs(price_num), 2),
       invoiced_at
  from classified_lines
 where destination = 'return'
