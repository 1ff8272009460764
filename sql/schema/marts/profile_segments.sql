create or replace view marts.profile_segments as
select run_id, customer_id, segment_id, segment_name, kmeans_cluster, dbscan_cluster, is_outlier,
       pca_x, pca_y, as_of_date, education, marital_status, age, income, kids_at_home,
       teens_at_home, recency_days, tenure_days, total_spend, spend_wines, spend_fruits, spend_meat,
       spend_fish, spend_sweets, spend_gold, total_purchases, purchases_deals, purchases_web,
       purchases_catalog, purchases_store, web_visits_month, accepted_campaigns, has_responded
  from published.profile_segments
 where run_id = (select run_id from published.current_runs where mart = 'profile_segments');
comment on view marts.profile_segments is
    'Segments of the customer_personality customers: one row per customer profile (latest published segment_customers run).';
comment on column marts.profile_segments.run_id is 'segment_customers DAG run (one row per customer per run).';
comment on column marts.profile_segments.customer_id is 'Customer (staging.customer_profiles.customer_id); one row per customer.';
comment on column marts.profile_segments.segment_id is 'Segment, 1 = highest mean total spend; stable across reruns on the same data.';
comment on column marts.profile_segments.segment_name is 'Human name of the segment, from its spend / income / household profile.';
comment on column marts.profile_segments.kmeans_cluster is 'Raw K-means cluster label (0-based) at the K-means chosen k.';
comment on column marts.profile_segments.dbscan_cluster is 'DBSCAN cluster label; -1 = noise (outlier).';
comment on column marts.profile_segments.is_outlier is 'True when DBSCAN marks the customer as noise.';
comment on column marts.profile_segments.pca_x is 'First principal component of the scaled features.';
comment on column marts.profile_segments.pca_y is 'Second principal component of the scaled features.';
comment on column marts.profile_segments.as_of_date is 'Date age and tenure are computed as of.';
comment on column marts.profile_segments.education is 'Education level as in the source.';
comment on column marts.profile_segments.marital_status is 'Marital status (Alone -> Single; YOLO, Absurd -> Other).';
comment on column marts.profile_segments.age is 'Age in whole years at the as-of date (from the birth year).';
comment on column marts.profile_segments.income is 'Yearly household income; empty where the source has none.';
comment on column marts.profile_segments.kids_at_home is 'Small children in the household.';
comment on column marts.profile_segments.teens_at_home is 'Teenagers in the household.';
comment on column marts.profile_segments.recency_days is 'Days since the last purchase (as in the source).';
comment on column marts.profile_segments.tenure_days is 'Days from enrolment to the as-of date.';
comment on column marts.profile_segments.total_spend is 'Spend over the last two years, all categories.';
comment on column marts.profile_segments.spend_wines is 'Spend on wine.';
comment on column marts.profile_segments.spend_fruits is 'Spend on fruit.';
comment on column marts.profile_segments.spend_meat is 'Spend on meat.';
comment on column marts.profile_segments.spend_fish is 'Spend on fish.';
comment on column marts.profile_segments.spend_sweets is 'Spend on sweets.';
comment on column marts.profile_segments.spend_gold is 'Spend on gold products.';
comment on column marts.profile_segments.total_purchases is 'Purchases through all channels (web, catalogue, store).';
comment on column marts.profile_segments.purchases_deals is 'Purchases made with a discount.';
comment on column marts.profile_segments.purchases_web is 'Purchases through the web site.';
comment on column marts.profile_segments.purchases_catalog is 'Purchases through the catalogue.';
comment on column marts.profile_segments.purchases_store is 'Purchases in stores.';
comment on column marts.profile_segments.web_visits_month is 'Web site visits in the last month.';
comment on column marts.profile_segments.accepted_campaigns is 'Campaigns 1-5 the customer accepted.';
comment on column marts.profile_segments.has_responded is 'True when the customer accepted the last campaign.';
