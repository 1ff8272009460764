create or replace view marts.segment_weekday_hour_sales as
select run_id, segment_id, segment_name, iso_weekday, weekday_name, hour_of_day, revenue, orders,
       order_lines
  from published.segment_weekday_hour_sales
 where run_id = (select run_id from published.current_runs where mart = 'segment_weekday_hour_sales');
comment on view marts.segment_weekday_hour_sales is
    'When each segment buys: one row per segment per weekday per hour of day (latest published run).';
comment on column marts.segment_weekday_hour_sales.run_id is 'Run that published these rows (publish_marts DAG run id).';
comment on column marts.segment_weekday_hour_sales.segment_id is 'Segment (marts.customer_segments.segment_id).';
comment on column marts.segment_weekday_hour_sales.segment_name is 'Human name of the segment.';
comment on column marts.segment_weekday_hour_sales.iso_weekday is 'ISO weekday of the invoice: 1 = Monday ... 7 = Sunday.';
comment on column marts.segment_weekday_hour_sales.weekday_name is 'Weekday name (Monday ... Sunday).';
comment on column marts.segment_weekday_hour_sales.hour_of_day is 'Hour of the invoice time, 0-23 (source local time).';
comment on column marts.segment_weekday_hour_sales.revenue is 'Sum of clean sale line amounts.';
comment on column marts.segment_weekday_hour_sales.orders is 'Distinct sale invoices.';
comment on column marts.segment_weekday_hour_sales.order_lines is 'Clean sale lines.';
