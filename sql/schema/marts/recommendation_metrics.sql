create or replace view marts.recommendation_metrics as
select run_id, method, list_type, precision_at_10, recall_at_10, ndcg_at_10, map_at_10, hit_rate_at_10,
       coverage, users_evaluated, train_start_date, train_end_date, test_start_date, test_end_date,
       f1_at_10, ndcg_diff_vs_hybrid_low, ndcg_diff_vs_hybrid_high, evaluation_status, evaluation_note
  from published.recommendation_metrics
 where run_id = (select run_id from published.current_runs where mart = 'recommendation_metrics');
comment on view marts.recommendation_metrics is
    'Offline quality of the lists on a time split: one row per method per list type (latest published run). Every method is tuned on the validation window before the test window and scored once on the test window.';
comment on column marts.recommendation_metrics.run_id is 'Run that published these rows (recommend_products DAG run id).';
comment on column marts.recommendation_metrics.method is 'hybrid (the published lists) or a baseline: discover: ease (EASE^R), als (implicit ALS), rp3beta, user_knn, item_knn, recent_popularity, segment_popularity, global_popularity, content_only, co_purchase_only; buy_again: own_most_bought, ease (bought products allowed).';
comment on column marts.recommendation_metrics.list_type is 'discover or buy_again.';
comment on column marts.recommendation_metrics.precision_at_10 is 'Mean over evaluated customers of (relevant products in the top 10) / 10; null when not evaluated.';
comment on column marts.recommendation_metrics.recall_at_10 is 'Mean of (relevant products in the top 10) / (relevant products); null when not evaluated.';
comment on column marts.recommendation_metrics.ndcg_at_10 is 'Mean normalised discounted cumulative gain at 10 (binary relevance); null when not evaluated.';
comment on column marts.recommendation_metrics.map_at_10 is 'Mean average precision at 10 (divided by min(relevant, 10)); null when not evaluated.';
comment on column marts.recommendation_metrics.hit_rate_at_10 is 'Share of evaluated customers with at least one relevant product in the top 10; null when not evaluated.';
comment on column marts.recommendation_metrics.coverage is 'Distinct products in the evaluated lists / products in the catalogue (products sold before the test window); null when not evaluated.';
comment on column marts.recommendation_metrics.users_evaluated is 'Customers who bought before and in the test window and have a relevant test product for this list type (0 when not evaluated).';
comment on column marts.recommendation_metrics.train_start_date is 'First day of the training period.';
comment on column marts.recommendation_metrics.train_end_date is 'Last day of the training period (the last day of the data when not evaluated).';
comment on column marts.recommendation_metrics.test_start_date is 'First day of the test window (last TEST_WINDOW_DAYS days); null when not evaluated.';
comment on column marts.recommendation_metrics.test_end_date is 'Last day of the test window (the last invoice day); null when not evaluated.';
comment on column marts.recommendation_metrics.f1_at_10 is 'Mean over evaluated customers of 2 x precision x recall / (precision + recall) at 10 (0 without a hit); null when not evaluated.';
comment on column marts.recommendation_metrics.ndcg_diff_vs_hybrid_low is 'Lower end of the 95 % paired bootstrap interval (customers resampled, BOOTSTRAP_RESAMPLES, fixed seed) of the hybrid''s NDCG@10 minus this method''s; above 0: the hybrid is better; 0 for the hybrid itself.';
comment on column marts.recommendation_metrics.ndcg_diff_vs_hybrid_high is 'Upper end of the same 95 % interval of hybrid NDCG@10 minus this method''s.';
comment on column marts.recommendation_metrics.evaluation_status is 'evaluated; not_evaluated (history too short for the validation and test windows, or too few customers: see evaluation_note); skipped (e.g. EASE above EASE_MAX_PRODUCTS products).';
comment on column marts.recommendation_metrics.evaluation_note is 'How the method was tuned (window, trials, validation NDCG@10, chosen parameters), or why it was not evaluated.';
