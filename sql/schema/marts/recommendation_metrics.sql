create or replace view marts.recommendation_metrics as
select run_id, method, list_type, precision_at_10, recall_at_10, ndcg_at_10, map_at_10, hit_rate_at_10,
       coverage, users_evaluated, train_start_date, train_end_date, test_start_date, test_end_date
  from published.recommendation_metrics
 where run_id = (select run_id from published.current_runs where mart = 'recommendation_metrics');
comment on view marts.recommendation_metrics is
    'Offline quality of the lists on a time split: one row per method per list type (latest published run).';
comment on column marts.recommendation_metrics.run_id is 'Run that published these rows (recommend_products DAG run id).';
comment on column marts.recommendation_metrics.method is 'hybrid (the published lists) or a baseline: global_popularity, recent_popularity, segment_popularity, content_only, co_purchase_only, own_most_bought.';
comment on column marts.recommendation_metrics.list_type is 'discover or buy_again.';
comment on column marts.recommendation_metrics.precision_at_10 is 'Mean over evaluated customers of (relevant products in the top 10) / 10.';
comment on column marts.recommendation_metrics.recall_at_10 is 'Mean of (relevant products in the top 10) / (relevant products).';
comment on column marts.recommendation_metrics.ndcg_at_10 is 'Mean normalised discounted cumulative gain at 10 (binary relevance).';
comment on column marts.recommendation_metrics.map_at_10 is 'Mean average precision at 10 (divided by min(relevant, 10)).';
comment on column marts.recommendation_metrics.hit_rate_at_10 is 'Share of evaluated customers with at least one relevant product in the top 10.';
comment on column marts.recommendation_metrics.coverage is 'Distinct products in the evaluated lists / products in the catalogue.';
comment on column marts.recommendation_metrics.users_evaluated is 'Customers who bought in both periods and have a relevant test product for this list type.';
comment on column marts.recommendation_metrics.train_start_date is 'First day of the training period.';
comment on column marts.recommendation_metrics.train_end_date is 'Last day of the training period.';
comment on column marts.recommendation_metrics.test_start_date is 'First day of the test window (last TEST_WINDOW_DAYS days).';
comment on column marts.recommendation_metrics.test_end_date is 'Last day of the test window (the last invoice day).';
