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
