create or replace view marts.pipeline_runs as
with staged as (  -- stage runs audited but not yet published by a pipeline run
    select run_id, min(dag_id) as dag_id, max(load_id) as load_id, max(staged_at) as staged_at
      from published.staged_runs
     where run_id not in (select segments_run_id from audit.pipeline_runs where segments_run_id is not null)
       and run_id not in (select recommendations_run_id from audit.pipeline_runs where recommendations_run_id is not null)
       and run_id not in (select run_id from audit.pipeline_runs)
     group by run_id
)
select run_id, load_id, source, source_sha256, layout, rows_raw, rows_clean, rows_returns,
       rows_rejected, customers_segmented, chosen_k, silhouette, discover_ndcg_at_10,
       buy_again_ndcg_at_10, status, seconds_by_dag, published_at, segments_run_id,
       recommendations_run_id, is_current
  from audit.pipeline_runs
 union all
select staged.run_id, staged.load_id, null, null, null, null, null, null, null, null, null, null, null,
       null, 'pending: ' || staged.dag_id || ' staged, waiting for the rest of the pipeline',
       '{}'::jsonb, null, null, null, false
  from staged;
comment on view marts.pipeline_runs is
    'Run history: one row per publication of the marts (publish_marts DAG run), plus one row per stage run that passed its audit and waits for the rest of its pipeline (status pending: ...). is_current marks the run BI sees.';
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
comment on column marts.pipeline_runs.status is 'published (its snapshot was switched on), pending (written, the pointers not moved yet), superseded: <run> published after it (a publication that failed before it switched), or pending: <dag> staged (a stage run waiting for the rest of its pipeline).';
comment on column marts.pipeline_runs.seconds_by_dag is 'Seconds per DAG of the run (sum of task durations), JSON.';
comment on column marts.pipeline_runs.published_at is 'When the marts of this run were published (UTC).';
comment on column marts.pipeline_runs.segments_run_id is 'segment_customers run whose segments this publication shows.';
comment on column marts.pipeline_runs.recommendations_run_id is 'recommend_products run whose recommendations this publication shows.';
comment on column marts.pipeline_runs.is_current is 'True for the one publication BI sees now (every marts view points at its runs).';
