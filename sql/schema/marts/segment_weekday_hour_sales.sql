create or replace view marts.segment_weekday_hour_sales as
select run_id, segment_id, segment_name, iso_weekday, weekday_name, hour_of_day, revenue, orders,
       order_lines
  from published.segment_weekday_hour_sales
 where run_id = (select run_id from published.current_runs where mart = 'segment_weekday_hour_sales');
