create or replace view marts.customer_recommendations as
select run_id, customer_id, list_type, rank, product_id, description, score, reason, is_cold_start
  from published.customer_recommendations
 where run_id = (select run_id from published.current_runs where mart = 'customer_recommendations');
comment on view marts.customer_recommendations is
    'Product lists per customer: one row per customer per list type (discover, buy_again) per rank (10 per list by default) (latest published run).';
comment on column marts.customer_recommendations.run_id is 'Run that published these rows (recommend_products DAG run id).';
comment on column marts.customer_recommendations.customer_id is 'Customer (staging.customers).';
comment on column marts.customer_recommendations.list_type is 'discover: products the customer has not bought yet; buy_again: products they bought before, ranked for re-purchase.';
comment on column marts.customer_recommendations.rank is '1 = the first product to show.';
comment on column marts.customer_recommendations.product_id is 'Recommended product (stock code).';
comment on column marts.customer_recommendations.description is 'Canonical description of the product.';
comment on column marts.customer_recommendations.score is 'Blend score the list is ordered by (comparable within one customer and list only).';
comment on column marts.customer_recommendations.reason is 'Why the product is on the list: the signal contributing most to its score.';
comment on column marts.customer_recommendations.is_cold_start is 'True for customers without purchases: the list is their segment''s (or global) popularity.';
