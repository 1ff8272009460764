-- published.segment_monthly_trends for run %(run_id)s, from the segments of run %(segments_run_id)s
-- (the staged segmentation this pipeline publishes): sales per segment per month.
-- Grain: one row per segment per calendar month. Guests have no segment and are left out.
insert into published.segment_monthly_trends (
    run_id, month_date, segment_id, segment_name, revenue, returns_amount, net_revenue, orders,
    active_customers
)
with segments as (
    select customer_id, segment_id, segment_name
      from published.customer_segments
     where run_id = %(segments_run_id)s
),

sales as (
    select date_trunc('month', l.invoiced_at)::date as month_date, s.segment_id, s.segment_name,
           sum(l.line_amount) as revenue, count(distinct l.invoice_no) as orders,
           count(distinct l.customer_id) as active_customers
      from staging.order_lines l
      join segments s on s.customer_id = l.customer_id
     group by 1, 2, 3
),

returned as (
    select date_trunc('month', r.invoiced_at)::date as month_date, s.segment_id,
           sum(r.line_amount) as returns_amount
      from staging.returns r
      join segments s on s.customer_id = r.customer_id
     group by 1, 2
),

final as (
    select %(run_id)s as run_id, sales.month_date, sales.segment_id, sales.segment_name,
           sales.revenue, coalesce(returned.returns_amount, 0) as returns_amount,
           sales.revenue - coalesce(returned.returns_amount, 0) as net_revenue,
           sales.orders, sales.active_customers
      from sales
      left join returned
        on returned.month_date = sales.month_date and returned.segment_id = sales.segment_id
)

select run_id, month_date, segment_id, segment_name, revenue, returns_amount, net_revenue, orders,
       active_customers
  from final
