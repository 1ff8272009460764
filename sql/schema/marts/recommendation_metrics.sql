create or replace view marts.recommendation_metrics as
select run_id, method, list_type, precision_at_10, recall_at_10, ndcg_at_10, map_at_10, hit_rate_at_10,
       coverage, users_evaluated, train_start_date, train_end_date, test_start_date, test_end_date,
       f1_at_10, ndcg_diff_vs_hybrid_low, ndcg_diff_vs_hybrid_high, evaluation_status, evaluation_note
  from published.recommendation_metrics
 where run_id = (select run_id from published.current_runs where mart = 'recommendation_metrics');
