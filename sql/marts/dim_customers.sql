-- published.dim_customers for run %(run_id)s: every identified customer of staging, with the
-- RFM figures and the segment of the snapshot's segmentation run %(segments_run_id)s.
-- Grain: one row per customer of staging.customers.
insert into published.dim_customers (
    run_id, customer_id, country, first_purchase_date, last_purchase_date, recency_days,
    frequency, monetary, segment_id, segment_name, is_segmented
)
with customers as (
    select customer_id, country from staging.customers
),

purchases as (
    select customer_id, min(invoiced_at)::date as first_purchase_date,
           max(invoiced_at)::date as last_purchase_date
      from staging.order_lines
     where customer_id is not null
     group by customer_id
),

segments as (
    select customer_id, segment_id, segment_name, recency_days, frequency, monetary
      from published.customer_segments
     where run_id = %(segments_run_id)s
),

final as (
    select %(run_id)s as run_id, customers.customer_id, customers.country,
           purchases.first_purchase_date, purchases.last_purchase_date, segments.recency_days,
           segments.frequency, segments.monetary, segments.segment_id, segments.segment_name,
           segments.customer_id is not null as is_segmented
      from customers
      left join purchases on purchases.customer_id = customers.customer_id
      left join segments on segments.customer_id = customers.customer_id
)

select run_id, customer_id, country, first_purchase_date, last_purchase_date, recency_days,
       frequency, monetary, segment_id, segment_name, is_segmented
  from final
