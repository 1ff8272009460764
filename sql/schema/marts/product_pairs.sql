create or replace view marts.product_pairs as
select run_id, product_id, other_product_id, invoices, support, confidence, lift, product_invoices,
       other_product_invoices, total_invoices
  from published.product_pairs
 where run_id = (select run_id from published.current_runs where mart = 'product_pairs');
