-- published.segment_weekday_hour_sales for run %(run_id)s, from the segments of run %(segments_run_id)s
-- (the staged segmentation this pipeline publishes): when each segment buys.
-- Grain: one row per segment per ISO weekday per hour of day.
insert into published.segment_weekday_hour_sales (
    run_id, segment_id, segment_name, iso_weekday, weekday_name, hour_of_day, revenue, orders,
    order_lines
)
with segments as (
    select customer_id, segment_id, segment_name
      from published.customer_segments
     where run_id = %(segments_run_id)s
),

final as (
    select %(run_id)s as run_id, s.segment_id, s.segment_name,
           extract(isodow from l.invoiced_at)::integer as iso_weekday,
           trim(to_char(l.invoiced_at, 'Day')) as weekday_name,
           extract(hour from l.invoiced_at)::integer as hour_of_day,
           sum(l.line_amount) as revenue, count(distinct l.invoice_no) as orders,
           count(*) as order_lines
      from staging.order_lines l
      join segments s on s.customer_id = l.customer_id
     group by 2, 3, 4, 5, 6
)

select run_id, segment_id, segment_name, iso_weekday, weekday_name, hour_of_day, revenue, orders,
       order_lines
  from final
