create or replace view marts.customer_segments as
select run_id, customer_id, segment_id, segment_name, kmeans_cluster, dbscan_cluster, is_outlier,
       pca_x, pca_y, as_of_date, country, recency_days, frequency, monetary, gross_revenue,
       returns_amount, tenure_days, avg_basket_value, distinct_products, return_rate,
       avg_days_between_orders
  from published.customer_segments
 where run_id = (select run_id from published.current_runs where mart = 'customer_segments');
