create or replace view marts.profile_segment_profiles as
select run_id, segment_id, segment_name, algorithm, customers, customer_share, spend, spend_share,
       outliers, mean_age, median_age, mean_income, median_income, mean_kids_at_home,
       mean_teens_at_home, mean_total_spend, median_total_spend, mean_total_purchases,
       median_total_purchases, mean_purchases_deals, mean_web_visits_month,
       mean_accepted_campaigns, response_rate, mean_recency_days, mean_tenure_days, top_education,
       top_marital_status
  from published.profile_segment_profiles
 where run_id = (select run_id from published.current_runs where mart = 'profile_segment_profiles');
comment on view marts.profile_segment_profiles is
    'What each customer_personality segment looks like: one row per segment (latest published run).';
comment on column marts.profile_segment_profiles.run_id is 'segment_customers DAG run (one row per segment per run).';
comment on column marts.profile_segment_profiles.segment_id is 'Segment (marts.profile_segments.segment_id); one row per segment.';
comment on column marts.profile_segment_profiles.segment_name is 'Human name of the segment.';
comment on column marts.profile_segment_profiles.algorithm is 'Algorithm that formed the segments: kmeans or agglomerative (Ward).';
comment on column marts.profile_segment_profiles.customers is 'Customers in the segment.';
comment on column marts.profile_segment_profiles.customer_share is 'customers / all segmented customers (0-1).';
comment on column marts.profile_segment_profiles.spend is 'Sum of total_spend of the segment.';
comment on column marts.profile_segment_profiles.spend_share is 'spend / total spend of all customers (0-1).';
comment on column marts.profile_segment_profiles.outliers is 'Customers of the segment DBSCAN marks as noise.';
comment on column marts.profile_segment_profiles.mean_age is 'Mean age of the segment''s customers.';
comment on column marts.profile_segment_profiles.median_age is 'Median age of the segment''s customers.';
comment on column marts.profile_segment_profiles.mean_income is 'Mean income (customers with an income).';
comment on column marts.profile_segment_profiles.median_income is 'Median income (customers with an income).';
comment on column marts.profile_segment_profiles.mean_kids_at_home is 'Mean small children per household.';
comment on column marts.profile_segment_profiles.mean_teens_at_home is 'Mean teenagers per household.';
comment on column marts.profile_segment_profiles.mean_total_spend is 'Mean total spend.';
comment on column marts.profile_segment_profiles.median_total_spend is 'Median total spend.';
comment on column marts.profile_segment_profiles.mean_total_purchases is 'Mean purchases through all channels.';
comment on column marts.profile_segment_profiles.median_total_purchases is 'Median purchases through all channels.';
comment on column marts.profile_segment_profiles.mean_purchases_deals is 'Mean purchases made with a discount.';
comment on column marts.profile_segment_profiles.mean_web_visits_month is 'Mean web visits last month.';
comment on column marts.profile_segment_profiles.mean_accepted_campaigns is 'Mean campaigns 1-5 accepted.';
comment on column marts.profile_segment_profiles.response_rate is 'Share of the segment that accepted the last campaign.';
comment on column marts.profile_segment_profiles.mean_recency_days is 'Mean days since the last purchase.';
comment on column marts.profile_segment_profiles.mean_tenure_days is 'Mean days since enrolment.';
comment on column marts.profile_segment_profiles.top_education is 'The most common education level of the segment with its share.';
comment on column marts.profile_segment_profiles.top_marital_status is 'The most common marital status of the segment with its share.';
