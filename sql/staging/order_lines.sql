-- staging.order_lines: the clean sale lines of the load classified in classified_lines.
-- Grain: one row per clean sale line (guests included).
insert into staging.order_lines (
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
       quantity_num::integer,
       price_num,
       round(quantity_num * price_num, 2),
       invoiced_at
  from classified_lines
 where destination = 'sale'
