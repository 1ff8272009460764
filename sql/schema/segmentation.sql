-- Customer segmentation (segment_customers DAG): features in ml.*, run summaries in ml.*, and the
-- BI marts as history tables published.* (one row set per run) + views marts.* on the run
-- published.current_runs points at (write-audit-publish, see schema/published.sql).
-- Two populations: 'transactions' (Online Retail customers, staging.order_lines) and
-- 'customer_profiles' (customer_personality layout, staging.customer_profiles).

-- ml.customer_features: built by sql/ml/customer_features.sql.
-- Grain: one row per customer with at least one sale before the as-of date, per run.
create table if not exists ml.customer_features (
    run_id                   text           not null,
    customer_id              integer        not null,
    as_of_date               date           not null,
    country                  text           not null,
    first_invoice_at         timestamp      not null,
    last_invoice_at          timestamp      not null,
    recency_days             integer        not null,
    frequency                integer        not null,
    monetary                 numeric(14, 2) not null,
    gross_revenue            numeric(14, 2) not null,
    returns_amount           numeric(14, 2) not null,
    tenure_days              integer        not null,
    avg_basket_value         numeric(14, 2) not null,
    distinct_products        integer        not null,
    units                    bigint         not null,
    return_rate              numeric(8, 4)  not null,
    avg_days_between_orders  numeric(10, 2),
    primary key (run_id, customer_id)
);

-- ml.profile_features: built by sql/ml/profile_features.sql.
-- Grain: one row per customer_personality customer enrolled before the as-of date, per run.
create table if not exists ml.profile_features (
    run_id               text           not null,
    customer_id          integer        not null,
    as_of_date           date           not null,
    education            text           not null,
    marital_status       text           not null,
    age                  integer        not null,
    income               numeric(12, 2),
    kids_at_home         integer        not null,
    teens_at_home        integer        not null,
    recency_days         integer        not null,
    tenure_days          integer        not null,
    total_spend          numeric(12, 2) not null,
    spend_wines          numeric(12, 2) not null,
    spend_fruits         numeric(12, 2) not null,
    spend_meat           numeric(12, 2) not null,
    spend_fish           numeric(12, 2) not null,
    spend_sweets         numeric(12, 2) not null,
    spend_gold           numeric(12, 2) not null,
    total_purchases      integer        not null,
    purchases_deals      integer        not null,
    purchases_web        integer        not null,
    purchases_catalog    integer        not null,
    purchases_store      integer        not null,
    web_visits_month     integer        not null,
    accepted_campaigns   integer        not null,
    has_responded        boolean        not null,
    primary key (run_id, customer_id)
);

-- ml.segmentation_runs: what a run chose and where its models and plots are.
-- Grain: one row per segment_customers run and population.
create table if not exists ml.segmentation_runs (
    run_id                  text          not null,
    population              text          not null,
    as_of_date              date          not null,
    algorithm               text          not null,
    customers               integer       not null,
    features                text[]        not null,
    chosen_k                integer       not null,
    elbow_k                 integer       not null,
    best_silhouette_k       integer       not null,
    silhouette              numeric(8, 4),
    pca_explained_variance  numeric(8, 4)[] not null,
    dbscan_eps              numeric(12, 6),
    dbscan_min_samples      integer,
    dbscan_clusters         integer,
    dbscan_noise_share      numeric(8, 4),
    model_dir               text          not null,
    plots                   jsonb         not null default '{}'::jsonb,
    fitted_at               timestamptz   not null default now(),
    primary key (run_id, population)
);

-- ---------------------------------------------------------------------------------------------
-- Marts of the transactions population.

create table if not exists published.customer_segments (
    run_id                   text           not null,
    customer_id              integer        not null,
    segment_id               integer        not null,
    segment_name             text           not null,
    kmeans_cluster           integer        not null,
    dbscan_cluster           integer        not null,
    is_outlier               boolean        not null,
    pca_x                    double precision not null,
    pca_y                    double precision not null,
    as_of_date               date           not null,
    country                  text           not null,
    recency_days             integer        not null,
    frequency                integer        not null,
    monetary                 numeric(14, 2) not null,
    gross_revenue            numeric(14, 2) not null,
    returns_amount           numeric(14, 2) not null,
    tenure_days              integer        not null,
    avg_basket_value         numeric(14, 2) not null,
    distinct_products        integer        not null,
    return_rate              numeric(8, 4)  not null,
    avg_days_between_orders  numeric(10, 2),
    primary key (run_id, customer_id)
);

create table if not exists published.segment_profiles (
    run_id                          text           not null,
    segment_id                      integer        not null,
    segment_name                    text           not null,
    algorithm                       text           not null,
    customers                       integer        not null,
    customer_share                  numeric(8, 4)  not null,
    revenue                         numeric(14, 2) not null,
    revenue_share                   numeric(8, 4)  not null,
    outliers                        integer        not null,
    mean_recency_days               numeric(12, 2) not null,
    median_recency_days             numeric(12, 2) not null,
    mean_frequency                  numeric(12, 2) not null,
    median_frequency                numeric(12, 2) not null,
    mean_monetary                   numeric(14, 2) not null,
    median_monetary                 numeric(14, 2) not null,
    mean_tenure_days                numeric(12, 2) not null,
    median_tenure_days              numeric(12, 2) not null,
    mean_avg_basket_value           numeric(14, 2) not null,
    median_avg_basket_value         numeric(14, 2) not null,
    mean_distinct_products          numeric(12, 2) not null,
    median_distinct_products        numeric(12, 2) not null,
    mean_return_rate                numeric(8, 4)  not null,
    median_return_rate              numeric(8, 4)  not null,
    mean_avg_days_between_orders    numeric(12, 2),
    median_avg_days_between_orders  numeric(12, 2),
    top_countries                   text           not null,
    top_products                    text           not null,
    primary key (run_id, segment_id)
);

create table if not exists published.segmentation_metrics (
    run_id              text             not null,
    algorithm           text             not null,
    k                   integer          not null,
    inertia             double precision,
    silhouette          double precision,
    davies_bouldin      double precision,
    calinski_harabasz   double precision,
    is_elbow            boolean          not null,
    is_best_silhouette  boolean          not null,
    is_chosen           boolean          not null,
    noise_share         double precision,
    eps                 double precision,
    min_samples         integer,
    fitted_on           integer          not null,
    as_of_date          date             not null,
    primary key (run_id, algorithm, k)
);

create or replace view marts.customer_segments as
select run_id, customer_id, segment_id, segment_name, kmeans_cluster, dbscan_cluster, is_outlier,
       pca_x, pca_y, as_of_date, country, recency_days, frequency, monetary, gross_revenue,
       returns_amount, tenure_days, avg_basket_value, distinct_products, return_rate,
       avg_days_between_orders
  from published.customer_segments
 where run_id = (select run_id from published.current_runs where mart = 'customer_segments');

comment on view marts.customer_segments is
    'Customer segments: one row per customer with at least one sale before the as-of date (latest published segment_customers run).';
comment on column marts.customer_segments.run_id is 'segment_customers DAG run that published these rows (one row per customer per run).';
comment on column marts.customer_segments.customer_id is 'Customer (staging.customers.customer_id); one row per customer.';
comment on column marts.customer_segments.segment_id is 'Segment of the customer, 1 = highest mean net revenue; stable across reruns on the same data.';
comment on column marts.customer_segments.segment_name is 'Human name of the segment (Champions, Loyal, At risk, ...), from its recency/frequency/monetary profile.';
comment on column marts.customer_segments.kmeans_cluster is 'Raw K-means cluster label (0-based) of the customer at the K-means chosen k (model output, per customer).';
comment on column marts.customer_segments.dbscan_cluster is 'DBSCAN cluster label of the customer; -1 = noise (outlier).';
comment on column marts.customer_segments.is_outlier is 'True when DBSCAN marks the customer as noise: an unusual customer, whatever the segment.';
comment on column marts.customer_segments.pca_x is 'First principal component of the customer''s scaled features (for the scatter plot).';
comment on column marts.customer_segments.pca_y is 'Second principal component of the customer''s scaled features.';
comment on column marts.customer_segments.as_of_date is 'Date the features are computed as of (invoices strictly before it count).';
comment on column marts.customer_segments.country is 'Country on most of the customer''s lines.';
comment on column marts.customer_segments.recency_days is 'Days from the last sale invoice date to the as-of date (1 = bought the day before).';
comment on column marts.customer_segments.frequency is 'Distinct sale invoices of the customer before the as-of date.';
comment on column marts.customer_segments.monetary is 'Net revenue of the customer: sales minus returns (can be negative).';
comment on column marts.customer_segments.gross_revenue is 'Sum of the customer''s sale line amounts.';
comment on column marts.customer_segments.returns_amount is 'Sum of the customer''s returned line amounts.';
comment on column marts.customer_segments.tenure_days is 'Days from the first sale invoice date to the as-of date.';
comment on column marts.customer_segments.avg_basket_value is 'gross_revenue / frequency: average value of one sale invoice.';
comment on column marts.customer_segments.distinct_products is 'Distinct products the customer bought.';
comment on column marts.customer_segments.return_rate is 'returns_amount / gross_revenue, capped at 1.';
comment on column marts.customer_segments.avg_days_between_orders is 'Days between first and last sale / (frequency - 1); empty for one-invoice customers.';

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

create or replace view marts.segmentation_metrics as
select run_id, algorithm, k, inertia, silhouette, davies_bouldin, calinski_harabasz, is_elbow,
       is_best_silhouette, is_chosen, noise_share, eps, min_samples, fitted_on, as_of_date
  from published.segmentation_metrics
 where run_id = (select run_id from published.current_runs where mart = 'segmentation_metrics');

comment on view marts.segmentation_metrics is
    'Model selection curves of the customer segmentation: one row per algorithm per k (latest published run).';
comment on column marts.segmentation_metrics.run_id is 'segment_customers DAG run (one row per algorithm per k per run).';
comment on column marts.segmentation_metrics.algorithm is 'kmeans, agglomerative (Ward) or dbscan (k = clusters DBSCAN found).';
comment on column marts.segmentation_metrics.k is 'Number of clusters; one row per algorithm and k.';
comment on column marts.segmentation_metrics.inertia is 'Within-cluster sum of squared distances in scaled feature space (the elbow curve).';
comment on column marts.segmentation_metrics.silhouette is 'Mean silhouette (-1..1, higher = better separated), on a sample; DBSCAN: noise left out.';
comment on column marts.segmentation_metrics.davies_bouldin is 'Davies-Bouldin index (lower = better).';
comment on column marts.segmentation_metrics.calinski_harabasz is 'Calinski-Harabasz index (higher = better).';
comment on column marts.segmentation_metrics.is_elbow is 'True for the k at the elbow of the inertia curve (max distance to the chord).';
comment on column marts.segmentation_metrics.is_best_silhouette is 'True for the k with the highest silhouette of the algorithm.';
comment on column marts.segmentation_metrics.is_chosen is 'True for the k used for the segments (best silhouette within elbow +- 1).';
comment on column marts.segmentation_metrics.noise_share is 'DBSCAN only: share of customers marked as noise.';
comment on column marts.segmentation_metrics.eps is 'DBSCAN only: eps, the knee of the k-distance curve.';
comment on column marts.segmentation_metrics.min_samples is 'DBSCAN only: min_samples (2 x number of features).';
comment on column marts.segmentation_metrics.fitted_on is 'Customers the model was fitted on (a sample when the population is large).';
comment on column marts.segmentation_metrics.as_of_date is 'Date the features are computed as of.';

-- ---------------------------------------------------------------------------------------------
-- Marts of the customer_profiles population (customer_personality layout).

create table if not exists published.profile_segments (
    run_id              text           not null,
    customer_id         integer        not null,
    segment_id          integer        not null,
    segment_name        text           not null,
    kmeans_cluster      integer        not null,
    dbscan_cluster      integer        not null,
    is_outlier          boolean        not null,
    pca_x               double precision not null,
    pca_y               double precision not null,
    as_of_date          date           not null,
    education           text           not null,
    marital_status      text           not null,
    age                 integer        not null,
    income              numeric(12, 2),
    kids_at_home        integer        not null,
    teens_at_home       integer        not null,
    recency_days        integer        not null,
    tenure_days         integer        not null,
    total_spend         numeric(12, 2) not null,
    spend_wines         numeric(12, 2) not null,
    spend_fruits        numeric(12, 2) not null,
    spend_meat          numeric(12, 2) not null,
    spend_fish          numeric(12, 2) not null,
    spend_sweets        numeric(12, 2) not null,
    spend_gold          numeric(12, 2) not null,
    total_purchases     integer        not null,
    purchases_deals     integer        not null,
    purchases_web       integer        not null,
    purchases_catalog   integer        not null,
    purchases_store     integer        not null,
    web_visits_month    integer        not null,
    accepted_campaigns  integer        not null,
    has_responded       boolean        not null,
    primary key (run_id, customer_id)
);

create table if not exists published.profile_segment_profiles (
    run_id                       text           not null,
    segment_id                   integer        not null,
    segment_name                 text           not null,
    algorithm                    text           not null,
    customers                    integer        not null,
    customer_share               numeric(8, 4)  not null,
    spend                        numeric(14, 2) not null,
    spend_share                  numeric(8, 4)  not null,
    outliers                     integer        not null,
    mean_age                     numeric(12, 2) not null,
    median_age                   numeric(12, 2) not null,
    mean_income                  numeric(12, 2),
    median_income                numeric(12, 2),
    mean_kids_at_home            numeric(12, 2) not null,
    mean_teens_at_home           numeric(12, 2) not null,
    mean_total_spend             numeric(12, 2) not null,
    median_total_spend           numeric(12, 2) not null,
    mean_total_purchases         numeric(12, 2) not null,
    median_total_purchases       numeric(12, 2) not null,
    mean_purchases_deals         numeric(12, 2) not null,
    mean_web_visits_month        numeric(12, 2) not null,
    mean_accepted_campaigns      numeric(12, 2) not null,
    response_rate                numeric(8, 4)  not null,
    mean_recency_days            numeric(12, 2) not null,
    mean_tenure_days             numeric(12, 2) not null,
    top_education                text           not null,
    top_marital_status           text           not null,
    primary key (run_id, segment_id)
);

create table if not exists published.profile_segmentation_metrics
    (like published.segmentation_metrics including all);

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

create or replace view marts.profile_segmentation_metrics as
select run_id, algorithm, k, inertia, silhouette, davies_bouldin, calinski_harabasz, is_elbow,
       is_best_silhouette, is_chosen, noise_share, eps, min_samples, fitted_on, as_of_date
  from published.profile_segmentation_metrics
 where run_id = (select run_id from published.current_runs where mart = 'profile_segmentation_metrics');

comment on view marts.profile_segmentation_metrics is
    'Model selection curves of the customer_personality segmentation: one row per algorithm per k (latest published run).';
comment on column marts.profile_segmentation_metrics.run_id is 'segment_customers DAG run (one row per algorithm per k per run).';
comment on column marts.profile_segmentation_metrics.algorithm is 'kmeans, agglomerative (Ward) or dbscan (k = clusters DBSCAN found).';
comment on column marts.profile_segmentation_metrics.k is 'Number of clusters; one row per algorithm and k.';
comment on column marts.profile_segmentation_metrics.inertia is 'Within-cluster sum of squared distances in scaled feature space.';
comment on column marts.profile_segmentation_metrics.silhouette is 'Mean silhouette (-1..1), on a sample; DBSCAN: noise left out.';
comment on column marts.profile_segmentation_metrics.davies_bouldin is 'Davies-Bouldin index (lower = better).';
comment on column marts.profile_segmentation_metrics.calinski_harabasz is 'Calinski-Harabasz index (higher = better).';
comment on column marts.profile_segmentation_metrics.is_elbow is 'True for the k at the elbow of the inertia curve.';
comment on column marts.profile_segmentation_metrics.is_best_silhouette is 'True for the k with the highest silhouette of the algorithm.';
comment on column marts.profile_segmentation_metrics.is_chosen is 'True for the k used for the segments (best silhouette within elbow +- 1).';
comment on column marts.profile_segmentation_metrics.noise_share is 'DBSCAN only: share of customers marked as noise.';
comment on column marts.profile_segmentation_metrics.eps is 'DBSCAN only: eps, the knee of the k-distance curve.';
comment on column marts.profile_segmentation_metrics.min_samples is 'DBSCAN only: min_samples (2 x number of features).';
comment on column marts.profile_segmentation_metrics.fitted_on is 'Customers the model was fitted on (a sample when large).';
comment on column marts.profile_segmentation_metrics.as_of_date is 'Date the features are computed as of.';
