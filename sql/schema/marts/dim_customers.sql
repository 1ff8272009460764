create or replace view marts.dim_customers as
select run_id, customer_id, country, first_purchase_date, last_purchase_date, recency_days,
       frequency, monetary, segment_id, segment_name, is_segmented
  from published.dim_customers
 where run_id = (select run_id from published.current_runs where mart = 'dim_customers');
