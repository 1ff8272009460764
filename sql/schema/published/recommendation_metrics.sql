create table if not exists published.recommendation_metrics (
    run_id            text             not null,
    method            text             not null,
    list_type         text             not null check (list_type in ('discover', 'buy_again')),
    precision_at_10   double precision not null,
    recall_at_10      double precision not null,
    ndcg_at_10        double precision not null,
    map_at_10         double precision not null,
    hit_rate_at_10    double precision not null,
    coverage          double precision not null,
    users_evaluated   integer          not null,
    train_start_date  date             not null,
    train_end_date    date             not null,
    test_start_date   date             not null,
    test_end_date     date             not null,
    primary key (run_id, method, list_type)
);
