-- published.dim_dates for run %(run_id)s: every calendar day from the first to the last invoice
-- day of staging (sales and returns), days without invoices included.
-- Grain: one row per calendar day.
insert into published.dim_dates (
    run_id, date_key, year, quarter, year_quarter, month, month_name, year_month, month_date,
    day_of_month, iso_year, iso_week, iso_weekday, weekday_name, is_weekend
)
with invoice_days as (
    select min(invoiced_at)::date as first_day, max(invoiced_at)::date as last_day
      from (
          select invoiced_at from staging.order_lines
          union all
          select invoiced_at from staging.returns
      ) lines
),

days as (
    select day::date as date_key
      from invoice_days
     cross join lateral generate_series(first_day, last_day, interval '1 day') as day
),

final as (
    select %(run_id)s as run_id, date_key,
           extract(year from date_key)::integer as year,
           extract(quarter from date_key)::integer as quarter,
           to_char(date_key, 'YYYY-"Q"Q') as year_quarter,
           extract(month from date_key)::integer as month,
           to_char(date_key, 'FMMonth') as month_name,
           to_char(date_key, 'YYYY-MM') as year_month,
           date_trunc('month', date_key)::date as month_date,
           extract(day from date_key)::integer as day_of_month,
           extract(isoyear from date_key)::integer as iso_year,
           extract(week from date_key)::integer as iso_week,
           extract(isodow from date_key)::integer as iso_weekday,
           to_char(date_key, 'FMDay') as weekday_name,
           extract(isodow from date_key) in (6, 7) as is_weekend
      from days
)

select run_id, date_key, year, quarter, year_quarter, month, month_name, year_month, month_date,
       day_of_month, iso_year, iso_week, iso_weekday, weekday_name, is_weekend
  from final
