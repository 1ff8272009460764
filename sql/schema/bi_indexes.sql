-- Indexes for the queries Tableau issues against the marts views (see bench/bi_queries.py).
-- Every view filters its history table on the published run_id, so each index leads with run_id.
-- Primary keys already serve: customer_segments by customer, customer_recommendations by
-- customer, product_similarity by product, the trend marts by segment.

-- "customers of a segment", segment filters and the trend joins
create index if not exists customer_segments_segment_idx
    on published.customer_segments (run_id, segment_id, customer_id);

-- "who is this product recommended to", product filters in recommendation dashboards
create index if not exists customer_recommendations_product_idx
    on published.customer_recommendations (run_id, product_id, list_type);

-- "what is bought with this product": pairs from either side, strongest first
create index if not exists product_pairs_other_product_idx
    on published.product_pairs (run_id, other_product_id);
create index if not exists product_pairs_lift_idx
    on published.product_pairs (run_id, lift desc);
