-- Product recommendations (recommend_products DAG): the interactions the models learn from
-- (ml), the history of every published run (published.*) and the BI contract (marts.*): each
-- view shows the run published.current_runs points at (see schema/published.sql).

-- Grain: one row per identified customer per product per invoice day (clean sales only).
create table if not exists ml.customer_product_interactions (
    customer_id     integer        not null,
    product_id      text           not null,
    invoice_date    date           not null,
    invoices        integer        not null,  -- distinct invoices that day
    quantity        bigint         not null,
    amount          numeric(14, 2) not null,
    primary key (customer_id, product_id, invoice_date)
);

create table if not exists published.product_similarity (
    run_id                       text             not null,
    product_id                   text             not null,
    method                       text             not null check (method in ('content', 'co_purchase')),
    rank                         integer          not null check (rank >= 1),
    similar_product_id           text             not null,
    score                        double precision not null,
    product_description          text             not null,
    similar_product_description  text             not null,
    primary key (run_id, product_id, method, rank)
);

create table if not exists published.product_pairs (
    run_id                  text             not null,
    product_id              text             not null,
    other_product_id        text             not null,
    invoices                integer          not null,
    support                 double precision not null,
    confidence              double precision not null,
    lift                    double precision not null,
    product_invoices        integer          not null,
    other_product_invoices  integer          not null,
    total_invoices          integer          not null,
    primary key (run_id, product_id, other_product_id)
);

create table if not exists published.customer_recommendations (
    run_id         text             not null,
    customer_id    integer          not null,
    list_type      text             not null check (list_type in ('discover', 'buy_again')),
    rank           integer          not null check (rank >= 1),
    product_id     text             not null,
    description    text             not null,
    score          double precision not null,
    reason         text             not null,
    is_cold_start  boolean          not null,
    primary key (run_id, customer_id, list_type, rank)
);

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

create or replace view marts.product_similarity as
select run_id, product_id, similar_product_id, method, rank, score, product_description,
       similar_product_description
  from published.product_similarity
 where run_id = (select run_id from published.current_runs where mart = 'product_similarity');

comment on view marts.product_similarity is
    'Most similar products: one row per product per method (content, co_purchase) per rank (top 20 by default) (latest published run).';
comment on column marts.product_similarity.run_id is 'Run that published these rows (recommend_products DAG run id).';
comment on column marts.product_similarity.product_id is 'Product (stock code, staging.products).';
comment on column marts.product_similarity.similar_product_id is 'A product similar to product_id.';
comment on column marts.product_similarity.method is 'content: cosine of TF-IDF of the descriptions; co_purchase: cosine of the customers who bought them.';
comment on column marts.product_similarity.rank is '1 = the most similar product of this product and method.';
comment on column marts.product_similarity.score is 'Cosine similarity, 0 to 1.';
comment on column marts.product_similarity.product_description is 'Canonical description of product_id.';
comment on column marts.product_similarity.similar_product_description is 'Canonical description of similar_product_id.';

create or replace view marts.product_pairs as
select run_id, product_id, other_product_id, invoices, support, confidence, lift, product_invoices,
       other_product_invoices, total_invoices
  from published.product_pairs
 where run_id = (select run_id from published.current_runs where mart = 'product_pairs');

comment on view marts.product_pairs is
    'Frequently bought together: one row per ordered pair of products bought on the same invoice at least MIN_PAIR_SUPPORT of all invoices (latest published run).';
comment on column marts.product_pairs.run_id is 'Run that published these rows (recommend_products DAG run id).';
comment on column marts.product_pairs.product_id is 'Antecedent product (stock code).';
comment on column marts.product_pairs.other_product_id is 'Product bought on the same invoices.';
comment on column marts.product_pairs.invoices is 'Invoices holding both products.';
comment on column marts.product_pairs.support is 'invoices / total_invoices.';
comment on column marts.product_pairs.confidence is 'invoices / product_invoices: share of the invoices of product_id that also hold other_product_id.';
comment on column marts.product_pairs.lift is 'confidence / (other_product_invoices / total_invoices); above 1: bought together more than by chance.';
comment on column marts.product_pairs.product_invoices is 'Invoices holding product_id.';
comment on column marts.product_pairs.other_product_invoices is 'Invoices holding other_product_id.';
comment on column marts.product_pairs.total_invoices is 'Sale invoices in staging (guests included).';

create or replace view marts.customer_recommendations as
select run_id, customer_id, list_type, rank, product_id, description, score, reason, is_cold_start
  from published.customer_recommendations
 where run_id = (select run_id from published.current_runs where mart = 'customer_recommendations');

comment on view marts.customer_recommendations is
    'Product lists per customer: one row per customer per list type (discover, buy_again) per rank (10 per list by default) (latest published run).';
comment on column marts.customer_recommendations.run_id is 'Run that published these rows (recommend_products DAG run id).';
comment on column marts.customer_recommendations.customer_id is 'Customer (staging.customers).';
comment on column marts.customer_recommendations.list_type is 'discover: products the customer has not bought yet; buy_again: products they bought before, ranked for re-purchase.';
comment on column marts.customer_recommendations.rank is '1 = the first product to show.';
comment on column marts.customer_recommendations.product_id is 'Recommended product (stock code).';
comment on column marts.customer_recommendations.description is 'Canonical description of the product.';
comment on column marts.customer_recommendations.score is 'Blend score the list is ordered by (comparable within one customer and list only).';
comment on column marts.customer_recommendations.reason is 'Why the product is on the list: the signal contributing most to its score.';
comment on column marts.customer_recommendations.is_cold_start is 'True for customers without purchases: the list is their segment''s (or global) popularity.';

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
