create or replace view marts.customer_recommendations as
select run_id, customer_id, list_type, rank, product_id, description, score, reason, is_cold_start
  from published.customer_recommendations
 where run_id = (select run_id from published.current_runs where mart = 'customer_recommendations');
