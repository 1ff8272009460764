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
