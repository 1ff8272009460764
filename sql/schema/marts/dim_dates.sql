create or replace view marts.dim_dates as
select run_id, date_key, year, quarter, year_quarter, month, month_name, year_month, month_date,
       day_of_month, iso_year, iso_week, iso_weekday, weekday_name, is_weekend
  from published.dim_dates
 where run_id = (select run_id from published.current_runs where mart = 'dim_dates');
comment on view marts.dim_dates is
    'Date dimension of the star schema: one row per calendar day from the first to the last invoice day (days without invoices included).';
comment on column marts.dim_dates.run_id is 'publish_marts run that built these rows (one row per day per run).';
comment on column marts.dim_dates.date_key is 'Calendar day (fct_order_lines.date_key, fct_returns.date_key); one row per day.';
comment on column marts.dim_dates.year is 'Calendar year.';
comment on column marts.dim_dates.quarter is 'Calendar quarter, 1-4.';
comment on column marts.dim_dates.year_quarter is 'Year and quarter, e.g. 2011-Q3.';
comment on column marts.dim_dates.month is 'Calendar month, 1-12.';
comment on column marts.dim_dates.month_name is 'Month name in English, e.g. March.';
comment on column marts.dim_dates.year_month is 'Year and month, e.g. 2011-03 (sorts in time order).';
comment on column marts.dim_dates.month_date is 'First day of the month (marts.segment_monthly_trends.month_date).';
comment on column marts.dim_dates.day_of_month is 'Day of the month, 1-31.';
comment on column marts.dim_dates.iso_year is 'ISO 8601 week-numbering year (differs from year around New Year).';
comment on column marts.dim_dates.iso_week is 'ISO 8601 week of iso_year, 1-53.';
comment on column marts.dim_dates.iso_weekday is 'ISO weekday, 1 = Monday .. 7 = Sunday.';
comment on column marts.dim_dates.weekday_name is 'Weekday name in English, e.g. Monday.';
comment on column marts.dim_dates.is_weekend is 'True on Saturdays and Sundays.';
