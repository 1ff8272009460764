create or replace view marts.segment_profiles as
select run_id, segment_id, segment_name, algorithm, customers, customer_share, revenue, revenue_share,
       outliers, mean_recency_days, median_recency_days, mean_frequency, median_frequency,
       mean_monetary, median_monetary, mean_tenure_days, median_tenure_days, mean_avg_basket_value,
       median_avg_basket_value, mean_distinct_products, median_distinct_products, mean_return_rate,
       median_return_rate, mean_avg_days_between_orders, median_avg_days_between_orders,
       top_countries, top_products
  from published.segment_profiles
 where run_id = (select run_id from published.current_runs where mart = 'segment_profiles');
