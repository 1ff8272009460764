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
