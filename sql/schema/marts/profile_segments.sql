create or replace view marts.profile_segments as
select run_id, customer_id, segment_id, segment_name, kmeans_cluster, dbscan_cluster, is_outlier,
       pca_x, pca_y, as_of_date, education, marital_status, age, income, kids_at_home,
       teens_at_home, recency_days, tenure_days, total_spend, spend_wines, spend_fruits, spend_meat,
       spend_fish, spend_sweets, spend_gold, total_purchases, purchases_deals, purchases_web,
       purchases_catalog, purchases_store, web_visits_month, accepted_campaigns, has_responded
  from published.profile_segments
 where run_id = (select run_id from published.current_runs where mart = 'profile_segments');
