create or replace view marts.profile_segment_profiles as
select run_id, segment_id, segment_name, algorithm, customers, customer_share, spend, spend_share,
       outliers, mean_age, median_age, mean_income, median_income, mean_kids_at_home,
       mean_teens_at_home, mean_total_spend, median_total_spend, mean_total_purchases,
       median_total_purchases, mean_purchases_deals, mean_web_visits_month,
       mean_accepted_campaigns, response_rate, mean_recency_days, mean_tenure_days, top_education,
       top_marital_status
  from published.profile_segment_profiles
 where run_id = (select run_id from published.current_runs where mart = 'profile_segment_profiles');
