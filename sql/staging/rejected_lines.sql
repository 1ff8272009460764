-- staging.rejected_lines: every other raw line, as landed, with the rule it broke.
-- Grain: one row per rejected raw line.
insert into staging.rejected_lines (
    load_id, source_line_number, reason_code, reason, invoice_no, stock_code, description,
    quantity, invoice_date, unit_price, customer_id, country
)
select load_id,
       source_line_number,
       reason_code,
       case reason_code
           when 'missing_invoice_no' then 'InvoiceNo is blank'
           when 'bad_invoice_no' then 'InvoiceNo ' || invoice_no || ' is not 6-7 digits (optionally after C)'
           when 'missing_stock_code' then 'StockCode is blank'
           when 'unparseable_quantity' then 'Quantity ' || coalesce(quantity, 'NULL') || ' is not a whole number'
           when 'unparseable_price' then 'UnitPrice ' || coalesce(unit_price, 'NULL') || ' is not a number'
           when 'missing_date' then 'InvoiceDate is blank'
           when 'unparseable_date' then 'InvoiceDate ' || invoice_date || ' is not a valid date and time'
           when 'date_after_extract' then 'InvoiceDate ' || invoice_date || ' is after the extract'
           when 'absurd_magnitude' then 'Quantity ' || quantity || ' or UnitPrice ' || unit_price || ' is beyond the plausible range'
           when 'bad_customer_id' then 'CustomerID ' || customer_id || ' is not a whole number'
           when 'non_product_code' then 'StockCode ' || stock_code || ' is not a product (postage, fee, adjustment or voucher)'
           when 'duplicate_line' then 'exact duplicate of an earlier line'
           when 'inconsistent_cancellation' then 'cancellation ' || invoice_no || ' with a positive quantity'
           when 'non_positive_quantity' then 'sale with quantity ' || quantity
           when 'non_positive_price' then 'sale with unit price ' || unit_price
       end,
       invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country
  from classified_lines
 where destination = 'rejected'
