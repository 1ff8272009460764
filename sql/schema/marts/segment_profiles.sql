create or replace view marts.segment_profiles as
select run_id, segment_id, segment_name, algorithm, customers, customer_share, revenue, revenue_share,
       outliers, mean_recency_days, median_recency_days, mean_frequency, median_frequency,
       mean_monetary, median_monetary, mean_tenure_days, median_tenure_days, mean_avg_basket_value,
       median_avg_basket_value, mean_distinct_products, median_distinct_products, mean_return_rate,
       median_return_rate, mean_avg_days_between_orders, median_avg_days_between_orders,
       top_countries, top_products
  from published.segment_profiles
 where run_id = (select run_id from published.current_runs where mart = 'segment_profiles');
comment on view marts.segment_profiles is
    'What each customer segment looks like: one row per segment (latest published segment_customers run).';
comment on column marts.segment_profiles.run_id is 'segment_customers DAG run that published these rows (one row per segment per run).';
comment on column marts.segment_profiles.segment_id is 'Segment (marts.customer_segments.segment_id); one row per segment.';
comment on column marts.segment_profiles.segment_name is 'Human name of the segment.';
comment on column marts.segment_profiles.algorithm is 'Algorithm that formed the segments: kmeans or agglomerative (Ward).';
comment on column marts.segment_profiles.customers is 'Customers in the segment.';
comment on column marts.segment_profiles.customer_share is 'customers / all segmented customers (0-1).';
comment on column marts.segment_profiles.revenue is 'Sum of the segment''s net revenue (monetary).';
comment on column marts.segment_profiles.revenue_share is 'revenue / net revenue of all segmented customers (0-1).';
comment on column marts.segment_profiles.outliers is 'Customers of the segment DBSCAN marks as noise.';
comment on column marts.segment_profiles.mean_recency_days is 'Mean recency_days of the segment''s customers.';
comment on column marts.segment_profiles.median_recency_days is 'Median recency_days of the segment''s customers.';
comment on column marts.segment_profiles.mean_frequency is 'Mean frequency (sale invoices) of the segment''s customers.';
comment on column marts.segment_profiles.median_frequency is 'Median frequency of the segment''s customers.';
comment on column marts.segment_profiles.mean_monetary is 'Mean net revenue of the segment''s customers.';
comment on column marts.segment_profiles.median_monetary is 'Median net revenue of the segment''s customers.';
comment on column marts.segment_profiles.mean_tenure_days is 'Mean tenure_days of the segment''s customers.';
comment on column marts.segment_profiles.median_tenure_days is 'Median tenure_days of the segment''s customers.';
comment on column marts.segment_profiles.mean_avg_basket_value is 'Mean average basket value of the segment''s customers.';
comment on column marts.segment_profiles.median_avg_basket_value is 'Median average basket value of the segment''s customers.';
comment on column marts.segment_profiles.mean_distinct_products is 'Mean distinct products of the segment''s customers.';
comment on column marts.segment_profiles.median_distinct_products is 'Median distinct products of the segment''s customers.';
comment on column marts.segment_profiles.mean_return_rate is 'Mean return rate of the segment''s customers.';
comment on column marts.segment_profiles.median_return_rate is 'Median return rate of the segment''s customers.';
comment on column marts.segment_profiles.mean_avg_days_between_orders is 'Mean days between orders (customers with two or more invoices).';
comment on column marts.segment_profiles.median_avg_days_between_orders is 'Median days between orders (customers with two or more invoices).';
comment on column marts.segment_profiles.top_countries is 'The segment''s three largest countries with their share of its customers.';
comment on column marts.segment_profiles.top_products is 'The segment''s five products with the most sales revenue (description).';
