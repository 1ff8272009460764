create table if not exists published.recommendation_metrics (
    run_id                    text             not null,
    method                    text             not null,
    list_type                 text             not null check (list_type in ('discover', 'buy_again')),
    precision_at_10           double precision,
    recall_at_10              double precision,
    ndcg_at_10                double precision,
    map_at_10                 double precision,
    hit_rate_at_10            double precision,
    coverage                  double precision,
    users_evaluated           integer          not null,
    train_start_date          date             not null,
    train_end_date            date             not null,
    test_start_date           date,
    test_end_date             date,
    f1_at_10                  double precision,
    ndcg_diff_vs_hybrid_low   double precision,
    ndcg_diff_vs_hybrid_high  double precision,
    evaluation_status         text             not null default 'evaluated'
                              check (evaluation_status in ('evaluated', 'not_evaluated', 'skipped')),
    evaluation_note           text,
    primary key (run_id, method, list_type)
);
-- Warehouses created before issue 11: a run may be too short to evaluate (metrics null, the
-- status says why); every method gets F1 and a paired bootstrap interval of its NDCG@10
-- difference to the hybrid.
alter table published.recommendation_metrics
    add column if not exists f1_at_10 double precision,
    add column if not exists ndcg_diff_vs_hybrid_low double precision,
    add column if not exists ndcg_diff_vs_hybrid_high double precision,
    add column if not exists evaluation_status text not null default 'evaluated'
        check (evaluation_status in ('evaluated', 'not_evaluated', 'skipped')),
    add column if not exists evaluation_note text,
    alter column precision_at_10 drop not null,
    alter column recall_at_10 drop not null,
    alter column ndcg_at_10 drop not null,
    alter column map_at_10 drop not null,
    alter column hit_rate_at_10 drop not null,
    alter column coverage drop not null,
    alter column test_start_date drop not null,
    alter column test_end_date drop not null;
