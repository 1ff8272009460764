create or replace view marts.segment_monthly_trends as
select run_id, month_date, segment_id, segment_name, revenue, returns_amount, net_revenue, orders,
       active_customers
  from published.segment_monthly_trends
 where run_id = (select run_id from published.current_runs where mart = 'segment_monthly_trends');
comment on view marts.segment_monthly_trends is
    'Monthly sales per customer segment: one row per segment per calendar month (latest published run).';
comment on column marts.segment_monthly_trends.run_id is 'Run that published these rows (publish_marts DAG run id).';
comment on column marts.segment_monthly_trends.month_date is 'First day of the calendar month of the invoices.';
comment on column marts.segment_monthly_trends.segment_id is 'Segment (marts.customer_segments.segment_id).';
comment on column marts.segment_monthly_trends.segment_name is 'Human name of the segment.';
comment on column marts.segment_monthly_trends.revenue is 'Sum of clean sale line amounts (quantity x unit price).';
comment on column marts.segment_monthly_trends.returns_amount is 'Sum of returned (cancelled) line amounts.';
comment on column marts.segment_monthly_trends.net_revenue is 'revenue - returns_amount.';
comment on column marts.segment_monthly_trends.orders is 'Distinct sale invoices.';
comment on column marts.segment_monthly_trends.active_customers is 'Distinct customers with at least one sale that month.';
