create or replace view marts.dim_customers as
select run_id, customer_id, country, first_purchase_date, last_purchase_date, recency_days,
       frequency, monetary, segment_id, segment_name, is_segmented
  from published.dim_customers
 where run_id = (select run_id from published.current_runs where mart = 'dim_customers');
comment on view marts.dim_customers is
    'Customer dimension of the star schema: one row per identified customer (guests have none), with RFM and the current segment of the published segmentation run.';
comment on column marts.dim_customers.run_id is 'publish_marts run that built these rows (one row per customer per run).';
comment on column marts.dim_customers.customer_id is 'Customer key (fct_order_lines.customer_id, fct_returns.customer_id); one row per customer.';
comment on column marts.dim_customers.country is 'Country on most of the customer''s lines.';
comment on column marts.dim_customers.first_purchase_date is 'Day of the customer''s first clean sale line; null for a customer who only returned goods.';
comment on column marts.dim_customers.last_purchase_date is 'Day of the customer''s last clean sale line; null for a customer who only returned goods.';
comment on column marts.dim_customers.recency_days is 'RFM recency: days from the last invoice to the segmentation as-of date (marts.customer_segments); null when not segmented.';
comment on column marts.dim_customers.frequency is 'RFM frequency: distinct sale invoices before the as-of date; null when not segmented.';
comment on column marts.dim_customers.monetary is 'RFM monetary: net revenue (sales - returns) before the as-of date; null when not segmented.';
comment on column marts.dim_customers.segment_id is 'Current segment (marts.customer_segments.segment_id, 1 = most valuable) of the published segmentation run; null when not segmented.';
comment on column marts.dim_customers.segment_name is 'Human name of the current segment; null when not segmented.';
comment on column marts.dim_customers.is_segmented is 'False for customers the segmentation left out (only returns, no sale before the as-of date).';
