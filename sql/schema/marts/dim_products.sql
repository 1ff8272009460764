create or replace view marts.dim_products as
select run_id, product_id, description, product_group, typical_unit_price, price_band,
       price_band_label, first_sold_date, last_sold_date, units_sold, is_sold
  from published.dim_products
 where run_id = (select run_id from published.current_runs where mart = 'dim_products');
