-- ml.customer_product_interactions: what the recommendation models learn from.
-- Grain: one row per identified customer per product per invoice day (clean sales; guests and
-- returns left out). Rebuilt wholesale from staging in the caller's transaction.
truncate ml.customer_product_interactions;  -- transactional: a failed rebuild keeps the old rows, and no dead tuples pile up

with sales as (
    select customer_id, product_id, invoiced_at::date as invoice_date, invoice_no, quantity, line_amount
      from staging.order_lines
     where customer_id is not null
),

final as (
    select customer_id,
           product_id,
           invoice_date,
           count(distinct invoice_no) as invoices,
           sum(quantity)              as quantity,
           sum(line_amount)           as amount
      from sales
     group by customer_id, product_id, invoice_date
)

insert into ml.customer_product_interactions (customer_id, product_id, invoice_date, invoices, quantity, amount)
select customer_id, product_id, invoice_date, invoices, quantity, amount
  from final;
