-- requires: schema/published/segmentation_metrics.sql
-- Grain: one row per algorithm per k per run (customer_personality population); the same
-- columns as published.segmentation_metrics.
create table if not exists published.profile_segmentation_metrics
    (like published.segmentation_metrics including all);
