-- requires: schema/ml/profile_features.sql
-- Marts of the customer_profiles population (customer_personality layout).
-- Grain: one row per customer per run: the features the models were fitted on (every column of
-- ml.profile_features, its key and comments included) and the models' outputs.
create table if not exists published.profile_segments (
    like ml.profile_features including all,
    segment_id      integer          not null,
    segment_name    text             not null,
    kmeans_cluster  integer          not null,
    dbscan_cluster  integer          not null,
    is_outlier      boolean          not null,
    pca_x           double precision not null,
    pca_y           double precision not null
);
