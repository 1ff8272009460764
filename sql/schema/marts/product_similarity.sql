create or replace view marts.product_similarity as
select run_id, product_id, similar_product_id, method, rank, score, product_description,
       similar_product_description
  from published.product_similarity
 where run_id = (select run_id from published.current_runs where mart = 'product_similarity');
