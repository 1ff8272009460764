create or replace view marts.segment_monthly_trends as
select run_id, month_date, segment_id, segment_name, revenue, returns_amount, net_revenue, orders,
       active_customers
  from published.segment_monthly_trends
 where run_id = (select run_id from published.current_runs where mart = 'segment_monthly_trends');
