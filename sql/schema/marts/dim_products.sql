create or replace view marts.dim_products as
select run_id, product_id, description, product_group, typical_unit_price, price_band,
       price_band_label, first_sold_date, last_sold_date, units_sold, is_sold
  from published.dim_products
 where run_id = (select run_id from published.current_runs where mart = 'dim_products');
comment on view marts.dim_products is
    'Product dimension of the star schema: one row per product sold or returned in the load, with its canonical description, group and price band.';
comment on column marts.dim_products.run_id is 'publish_marts run that built these rows (one row per product per run).';
comment on column marts.dim_products.product_id is 'Product key: the stock code, upper-case (fct_order_lines.product_id, fct_returns.product_id); one row per product.';
comment on column marts.dim_products.description is 'Canonical description: the one used on most lines.';
comment on column marts.dim_products.product_group is 'Product type from the description: its last word that ends many descriptions (Bag, Holder, Candle, Mug, ...); Other when none does. Deterministic, set-based (sql/marts/dim_products.sql).';
comment on column marts.dim_products.typical_unit_price is 'Median unit price of the product''s sale lines (of its return lines for a product never sold).';
comment on column marts.dim_products.price_band is 'Price quantile band of typical_unit_price over all products, 1 = cheapest (PRICE_BANDS bands).';
comment on column marts.dim_products.price_band_label is 'Price band with its range of typical unit prices, e.g. 1 (0.04-0.85).';
comment on column marts.dim_products.first_sold_date is 'Day of the first clean sale line; null for a product only returned.';
comment on column marts.dim_products.last_sold_date is 'Day of the last clean sale line; null for a product only returned.';
comment on column marts.dim_products.units_sold is 'Units on clean sale lines.';
comment on column marts.dim_products.is_sold is 'False for products seen only on returns in this load.';
