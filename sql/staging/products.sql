-- staging.products: one row per product in the load's sale and return lines, with one
-- canonical description: the description used on most lines (ties: the latest used, then
-- alphabetical); blank descriptions never win unless there is no other.
-- Grain: one row per product_id.
insert into staging.products (
    load_id, product_id, description, description_variants, first_sold_at, last_sold_at,
    units_sold, is_sold
)
with lines as (
    select product_id, btrim(description) as description, invoiced_at, quantity_num,
           destination
      from classified_lines
     where destination in ('sale', 'return')
),

descriptions as (
    select product_id, description, count(*) as lines, max(invoiced_at) as last_used_at
      from lines
     where coalesce(description, '') <> ''
     group by product_id, description
),

canonical as (
    select distinct on (product_id) product_id, description
      from descriptions
     order by product_id, lines desc, last_used_at desc, description
),

final as (
    select %(load_id)s::integer as load_id,
           lines.product_id,
           coalesce(canonical.description, 'UNKNOWN PRODUCT ' || lines.product_id) as description,
           count(distinct lines.description) filter (where coalesce(lines.description, '') <> '')
               as description_variants,
           min(lines.invoiced_at) filter (where destination = 'sale') as first_sold_at,
           max(lines.invoiced_at) filter (where destination = 'sale') as last_sold_at,
           coalesce(sum(lines.quantity_num) filter (where destination = 'sale'), 0) as units_sold,
           bool_or(destination = 'sale') as is_sold
      from lines
      left join canonical on canonical.product_id = lines.product_id
     group by lines.product_id, canonical.description
)

select load_id, product_id, description, description_variants, first_sold_at, last_sold_at,
       units_sold, is_sold
  from final
