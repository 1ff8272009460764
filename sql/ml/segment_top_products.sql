-- The top products of every segment of run %(run_id)s (published.customer_segments, written but
-- not yet published): the %(top_n)s products with the most sales revenue from the segment's
-- customers before the as-of date, best first. Grain: one row per segment.
with segments as (
    select customer_id, segment_id
      from published.customer_segments
     where run_id = %(run_id)s
),

sales as (
    select s.segment_id, l.product_id, sum(l.line_amount) as revenue
      from staging.order_lines l
      join segments s on s.customer_id = l.customer_id
     where l.invoiced_at < %(as_of_date)s::date
     group by s.segment_id, l.product_id
),

ranked as (
    select segment_id, product_id, revenue,
           row_number() over (partition by segment_id order by revenue desc, product_id) as product_rank
      from sales
),

final as (
    select r.segment_id,
           string_agg(coalesce(p.description, r.product_id), '; ' order by r.product_rank) as top_products
      from ranked r
      left join staging.products p on p.product_id = r.product_id
     where r.product_rank <= %(top_n)s
     group by r.segment_id
)

select segment_id, top_products from final
