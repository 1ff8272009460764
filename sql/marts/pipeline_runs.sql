-- One row in audit.pipeline_runs (read by BI as marts.pipeline_runs) for the publication run
-- %(run_id)s of the snapshot it publishes (segments of run %(segments_run_id)s, recommendations
-- of run %(recommendations_run_id)s, both staged): the load the marts were built from, rows per
-- stage, the segmentation and recommendation headline metrics, seconds per DAG. Written with
-- status 'pending'; publish_snapshot flips it to 'published' when the pointers move.
-- Rerunning the task replaces the row.
-- Returns run_id, load_id, customers_segmented, chosen_k.
with

latest_load as (
    select %(load_id)s::integer as load_id
),

ingest as (
    select runs.load_id, runs.source, runs.source_sha256, runs.layout, runs.rows_landed
      from audit.ingest_runs as runs
      join latest_load on latest_load.load_id = runs.load_id
),

staged as (
    select (select count(*) from staging.order_lines) as rows_clean,
           (select count(*) from staging.returns) as rows_returns,
           (select count(*) from staging.rejected_lines) as rows_rejected
),

segmentation as (
    select (select count(*) from published.customer_segments where run_id = %(segments_run_id)s)
               as customers_segmented,
           chosen.k as chosen_k,
           chosen.silhouette
      from (select 1) as one
      left join lateral (
          select metrics.k, metrics.silhouette
            from published.segmentation_metrics as metrics
           where metrics.run_id = %(segments_run_id)s and metrics.is_chosen
           order by metrics.algorithm
           limit 1
      ) as chosen on true
),

recommendation as (
    select max(ndcg_at_10) filter (where list_type = 'discover') as discover_ndcg_at_10,
           max(ndcg_at_10) filter (where list_type = 'buy_again') as buy_again_ndcg_at_10
      from published.recommendation_metrics
     where run_id = %(recommendations_run_id)s and method = 'hybrid'
),

dag_runs as (  -- the newest run of every DAG, summed over its tasks
    select distinct on (dag_id) dag_id, run_id
      from audit.task_runs
     order by dag_id, finished_at desc
),

dag_seconds as (
    select coalesce(jsonb_object_agg(dag_runs.dag_id, round(totals.seconds, 1)), '{}'::jsonb) as seconds_by_dag
      from dag_runs
      join lateral (
          select sum(task_runs.seconds) as seconds
            from audit.task_runs
           where task_runs.dag_id = dag_runs.dag_id and task_runs.run_id = dag_runs.run_id
      ) as totals on true
),

final as (
    select %(run_id)s as run_id, ingest.load_id, ingest.source, ingest.source_sha256, ingest.layout,
           ingest.rows_landed as rows_raw, staged.rows_clean, staged.rows_returns, staged.rows_rejected,
           segmentation.customers_segmented, segmentation.chosen_k, segmentation.silhouette,
           recommendation.discover_ndcg_at_10, recommendation.buy_again_ndcg_at_10,
           %(status)s as status, dag_seconds.seconds_by_dag,
           %(segments_run_id)s as segments_run_id, %(recommendations_run_id)s as recommendations_run_id
      from staged
      cross join segmentation
      cross join recommendation
      cross join dag_seconds
      left join ingest on true
)

insert into audit.pipeline_runs (
    run_id, load_id, source, source_sha256, layout, rows_raw, rows_clean, rows_returns, rows_rejected,
    customers_segmented, chosen_k, silhouette, discover_ndcg_at_10, buy_again_ndcg_at_10, status,
    seconds_by_dag, segments_run_id, recommendations_run_id
)
select run_id, load_id, source, source_sha256, layout, rows_raw, rows_clean, rows_returns, rows_rejected,
       customers_segmented, chosen_k, silhouette, discover_ndcg_at_10, buy_again_ndcg_at_10, status,
       seconds_by_dag, segments_run_id, recommendations_run_id
  from final
on conflict (run_id) do update set
    load_id = excluded.load_id, source = excluded.source, source_sha256 = excluded.source_sha256,
    layout = excluded.layout, rows_raw = excluded.rows_raw, rows_clean = excluded.rows_clean,
    rows_returns = excluded.rows_returns, rows_rejected = excluded.rows_rejected,
    customers_segmented = excluded.customers_segmented, chosen_k = excluded.chosen_k,
    silhouette = excluded.silhouette, discover_ndcg_at_10 = excluded.discover_ndcg_at_10,
    buy_again_ndcg_at_10 = excluded.buy_again_ndcg_at_10,
    status = case when audit.pipeline_runs.status = 'published' then audit.pipeline_runs.status
                  else excluded.status end,  -- a rerun of this step never unpublishes a run
    seconds_by_dag = excluded.seconds_by_dag, segments_run_id = excluded.segments_run_id,
    recommendations_run_id = excluded.recommendations_run_id
returning run_id, load_id, customers_segmented, chosen_k;
