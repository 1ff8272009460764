-- ml.customer_features for run %(run_id)s: recency / frequency / monetary and friends per
-- customer, as of %(as_of_date)s (only lines invoiced strictly before that date count), of the
-- customers of one block (%(block_first)s <= customer_id < %(block_next)s, a null bound open:
-- the mapped build_features tasks, include/db/blocks.py).
-- Grain: one row per customer (guests excluded) with at least one sale before the as-of date.
-- monetary is net of returns; return_rate = returned / sold value, capped at 1 (a return can
-- refer to a sale before the data starts); avg_days_between_orders is null for one invoice.
insert into ml.customer_features (
    run_id, customer_id, as_of_date, country, first_invoice_at, last_invoice_at, recency_days,
    frequency, monetary, gross_revenue, returns_amount, tenure_days, avg_basket_value,
    distinct_products, units, return_rate, avg_days_between_orders
)
with sales as (
    select customer_id, invoice_no, product_id, quantity, line_amount, invoiced_at
      from staging.order_lines
     where customer_id is not null and invoiced_at < %(as_of_date)s::date
       and (%(block_first)s::integer is null or customer_id >= %(block_first)s::integer)
       and (%(block_next)s::integer is null or customer_id < %(block_next)s::integer)
),

returned as (
    select customer_id, line_amount
      from staging.returns
     where customer_id is not null and invoiced_at < %(as_of_date)s::date
       and (%(block_first)s::integer is null or customer_id >= %(block_first)s::integer)
       and (%(block_next)s::integer is null or customer_id < %(block_next)s::integer)
),

customers as (
    select customer_id, country from staging.customers
),

sales_per_customer as (
    select customer_id,
           min(invoiced_at) as first_invoice_at,
           max(invoiced_at) as last_invoice_at,
           count(distinct invoice_no) as frequency,
           sum(line_amount) as gross_revenue,
           count(distinct product_id) as distinct_products,
           sum(quantity) as units
      from sales
     group by customer_id
),

returns_per_customer as (
    select customer_id, sum(line_amount) as returns_amount
      from returned
     group by customer_id
),

final as (
    select %(run_id)s as run_id,
           s.customer_id,
           %(as_of_date)s::date as as_of_date,
           coalesce(c.country, 'Unspecified') as country,
           s.first_invoice_at,
           s.last_invoice_at,
           %(as_of_date)s::date - s.last_invoice_at::date as recency_days,
           s.frequency,
           s.gross_revenue - coalesce(r.returns_amount, 0) as monetary,
           s.gross_revenue,
           coalesce(r.returns_amount, 0) as returns_amount,
           %(as_of_date)s::date - s.first_invoice_at::date as tenure_days,
           round(s.gross_revenue / s.frequency, 2) as avg_basket_value,
           s.distinct_products,
           s.units,
           round(least(1, coalesce(r.returns_amount, 0) / s.gross_revenue), 4) as return_rate,
           case when s.frequency > 1
                then round((extract(epoch from s.last_invoice_at - s.first_invoice_at) / 86400.0
                            / (s.frequency - 1))::numeric, 2)
           end as avg_days_between_orders
      from sales_per_customer s
      left join returns_per_customer r on r.customer_id = s.customer_id
      left join customers c on c.customer_id = s.customer_id
)

select run_id, customer_id, as_of_date, country, first_invoice_at, last_invoice_at, recency_days,
       frequency, monetary, gross_revenue, returns_amount, tenure_days, avg_basket_value,
       distinct_products, units, return_rate, avg_days_between_orders
  from final
