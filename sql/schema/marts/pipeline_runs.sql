create or replace view marts.pipeline_runs as
select run_id, load_id, source, source_sha256, layout, rows_raw, rows_clean, rows_returns,
       rows_rejected, customers_segmented, chosen_k, silhouette, discover_ndcg_at_10,
       buy_again_ndcg_at_10, status, seconds_by_dag, published_at
  from audit.pipeline_runs;
comment on view marts.pipeline_runs is
    'Run history: one row per publication of the marts (publish_marts DAG run), newest last.';
comment on column marts.pipeline_runs.run_id is 'publish_marts DAG run id.';
comment on column marts.pipeline_runs.load_id is 'Raw load the run was built from (audit.ingest_runs).';
comment on column marts.pipeline_runs.source is 'Source the load was pulled from (Kaggle slug, path or URL).';
comment on column marts.pipeline_runs.source_sha256 is 'sha256 of the landed source file.';
comment on column marts.pipeline_runs.layout is 'Source layout (online_retail, online_retail_ii, customer_personality).';
comment on column marts.pipeline_runs.rows_raw is 'Raw lines landed.';
comment on column marts.pipeline_runs.rows_clean is 'Clean sale lines in staging.';
comment on column marts.pipeline_runs.rows_returns is 'Return lines in staging.';
comment on column marts.pipeline_runs.rows_rejected is 'Rejected lines (each with a reason code).';
comment on column marts.pipeline_runs.customers_segmented is 'Customers in marts.customer_segments.';
comment on column marts.pipeline_runs.chosen_k is 'Number of K-means segments chosen.';
comment on column marts.pipeline_runs.silhouette is 'Silhouette of the chosen segmentation.';
comment on column marts.pipeline_runs.discover_ndcg_at_10 is 'NDCG@10 of the hybrid discover list on the held-out month.';
comment on column marts.pipeline_runs.buy_again_ndcg_at_10 is 'NDCG@10 of the hybrid buy-again list on the held-out month.';
comment on column marts.pipeline_runs.status is 'success, or failed with the stage that failed.';
comment on column marts.pipeline_runs.seconds_by_dag is 'Seconds per DAG of the run (sum of task durations), JSON.';
comment on column marts.pipeline_runs.published_at is 'When the marts of this run were published (UTC).';
