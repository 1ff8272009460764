-- published.dim_products for run %(run_id)s: every product of staging.products with its
-- canonical description, a product group, a price band and its first and last sale.
-- Grain: one row per product of staging.products.
--
-- product_group: the description's head noun, found from the catalogue itself. Words are the
-- alphabetic tokens of 3+ letters, plurals folded (CANDLES -> CANDLE, BOXES -> BOX; not GLASS).
-- A word is a product type when it is the last word of at least %(group_min_products)s
-- descriptions and of at least a third of the descriptions it appears in (HOLDER, BAG, MUG; not
-- colours, sizes or patterns such as PINK, SMALL, RETROSPOT, which rarely end one). A product's
-- group is the last product-type word of its description, else Other.
-- price_band: quantile band (%(price_bands)s bands, 1 = cheapest) of the median sale unit price
-- over all products; the bands' lower bounds are the prices' 0, 1/n, 2/n, ... quantiles, so
-- equal prices share a band.
insert into published.dim_products (
    run_id, product_id, description, product_group, typical_unit_price, price_band,
    price_band_label, first_sold_date, last_sold_date, units_sold, is_sold
)
with products as (
    select product_id, description, first_sold_at, last_sold_at, units_sold, is_sold
      from staging.products
),

tokens as (
    select products.product_id, word.position,
           case
               when word.token like '%%XES' then left(word.token, -2)
               when word.token like '%%S' and word.token not like '%%SS' then left(word.token, -1)
               else word.token
           end as word
      from products
     cross join lateral regexp_split_to_table(upper(products.description), '[^A-Z]+')
           with ordinality as word (token, position)
     where length(word.token) >= 3
),

last_words as (
    select distinct on (product_id) product_id, word
      from tokens
     order by product_id, position desc
),

word_products as (
    select word, count(distinct product_id) as products from tokens group by word
),

word_endings as (
    select word, count(*) as endings from last_words group by word
),

product_types as (
    select word_endings.word
      from word_endings
      join word_products on word_products.word = word_endings.word
     where word_endings.endings >= %(group_min_products)s
       and word_endings.endings * 3 >= word_products.products
),

groups as (
    select distinct on (tokens.product_id) tokens.product_id, initcap(tokens.word) as product_group
      from tokens
      join product_types on product_types.word = tokens.word
     order by tokens.product_id, tokens.position desc
),

sale_prices as (
    select product_id, percentile_cont(0.5) within group (order by unit_price) as price
      from staging.order_lines
     group by product_id
),

return_prices as (
    select product_id, percentile_cont(0.5) within group (order by unit_price) as price
      from staging.returns
     group by product_id
),

prices as (
    select products.product_id,
           round(coalesce(sale_prices.price, return_prices.price, 0)::numeric, 3) as typical_unit_price
      from products
      left join sale_prices on sale_prices.product_id = products.product_id
      left join return_prices on return_prices.product_id = products.product_id
),

price_bounds as (  -- the lower bound of each band: the 0, 1/n, 2/n, ... quantiles of the prices
    select percentile_disc(
               array(select band::float8 / %(price_bands)s from generate_series(0, %(price_bands)s - 1) band)
           ) within group (order by typical_unit_price) as lower_bounds
      from prices
),

banded as (  -- equal prices share a band
    select prices.product_id, prices.typical_unit_price,
           width_bucket(prices.typical_unit_price, price_bounds.lower_bounds) as price_band
      from prices
     cross join price_bounds
),

bands as (
    select price_band, min(typical_unit_price) as low, max(typical_unit_price) as high
      from banded
     group by price_band
),

final as (
    select %(run_id)s as run_id, products.product_id, products.description,
           coalesce(groups.product_group, 'Other') as product_group, banded.typical_unit_price,
           banded.price_band,
           format('%%s (%%s-%%s)', banded.price_band, to_char(bands.low, 'FM999999990.00'),
                  to_char(bands.high, 'FM999999990.00')) as price_band_label,
           products.first_sold_at::date as first_sold_date,
           products.last_sold_at::date as last_sold_date, products.units_sold, products.is_sold
      from products
      join banded on banded.product_id = products.product_id
      join bands on bands.price_band = banded.price_band
      left join groups on groups.product_id = products.product_id
)

select run_id, product_id, description, product_group, typical_unit_price, price_band,
       price_band_label, first_sold_date, last_sold_date, units_sold, is_sold
  from final
