create or replace view marts.dim_dates as
select run_id, date_key, year, quarter, year_quarter, month, month_name, year_month, month_date,
       day_of_month, iso_year, iso_week, iso_weekday, weekday_name, is_weekend
  from published.dim_dates
 where run_id = (select run_id from published.current_runs where mart = 'dim_dates');
