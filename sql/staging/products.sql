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

-- one pass over the lines: one row per product and description (blank and null included)
descriptions as (
    select product_id,
           description,
           count(*) as lines,
           max(invoiced_at) as last_used_at,
           min(invoiced_at) filter (where destination = 'sale') as first_sold_at,
           max(invoiced_at) filter (where destination = 'sale') as last_sold_at,
           sum(quantity_num) filter (where destination = 'sale') as units_sold,
           bool_or(destination = 'sale') as is_sold
      from lines
     group by product_id, description
),

canonical as (
    select distinct on (product_id) product_id, description
      from descriptions
     where coalesce(description, '') <> ''
     order by product_id, lines desc, last_used_at desc, description
),

final as (
    select %(load_id)s::integer as load_id,
           descriptions.product_id,
           coalesce(canonical.description, 'UNKNOWN PRODUCT ' || descriptions.product_id) as description,
           count(*) filter (where coalesce(descriptions.description, '') <> '') as description_variants,
           min(descriptions.first_sold_at) as first_sold_at,
           max(descriptions.last_sold_at) as last_sold_at,
           coalesce(sum(descriptions.units_sold), 0) as units_sold,
           bool_or(descriptions.is_sold) as is_sold
      from descriptions
      left join canonical on canonical.product_id = descriptions.product_id
     group by descriptions.product_id, canonical.description
)

select load_id, product_id, description, description_variants, first_sold_at, last_sold_at,
       units_sold, is_sold
  from final
