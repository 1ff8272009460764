-- staging.customers: one row per identified customer (guests excluded) of the load's clean
-- sale and return lines; country = the country on most of their lines (ties: alphabetical).
-- Grain: one row per customer_id.
insert into staging.customers (load_id, customer_id, country, first_invoice_at, last_invoice_at)
with lines as (
    select customer_key as customer_id, coalesce(country_text, 'Unspecified') as country,
           invoiced_at
      from classified_lines
     where destination in ('sale', 'return') and customer_key is not null
),

-- one pass over the lines: one row per customer and country
by_country as (
    select customer_id, country, count(*) as n,
           min(invoiced_at) as first_invoice_at, max(invoiced_at) as last_invoice_at
      from lines
     group by customer_id, country
),

countries as (
    select distinct on (customer_id) customer_id, country
      from by_country
     order by customer_id, n desc, country
),

final as (
    select %(load_id)s::integer as load_id, by_country.customer_id, countries.country,
           min(by_country.first_invoice_at) as first_invoice_at,
           max(by_country.last_invoice_at) as last_invoice_at
      from by_country
      join countries on countries.customer_id = by_country.customer_id
     group by by_country.customer_id, countries.country
)

select load_id, customer_id, country, first_invoice_at, last_invoice_at from final
