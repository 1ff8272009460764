create or replace view marts.product_similarity as
select run_id, product_id, similar_product_id, method, rank, score, product_description,
       similar_product_description
  from published.product_similarity
 where run_id = (select run_id from published.current_runs where mart = 'product_similarity');
comment on view marts.product_similarity is
    'Most similar products: one row per product per method (content, co_purchase) per rank (top 20 by default) (latest published run).';
comment on column marts.product_similarity.run_id is 'Run that published these rows (recommend_products DAG run id).';
comment on column marts.product_similarity.product_id is 'Product (stock code, staging.products).';
comment on column marts.product_similarity.similar_product_id is 'A product similar to product_id.';
comment on column marts.product_similarity.method is 'content: cosine of TF-IDF of the descriptions; co_purchase: cosine of the customers who bought them.';
comment on column marts.product_similarity.rank is '1 = the most similar product of this product and method.';
comment on column marts.product_similarity.score is 'Cosine similarity, 0 to 1.';
comment on column marts.product_similarity.product_description is 'Canonical description of product_id.';
comment on column marts.product_similarity.similar_product_description is 'Canonical description of similar_product_id.';
