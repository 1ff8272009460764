-- Grain: one row per calendar day from the first to the last invoice day of staging, per run.
create table if not exists published.dim_dates (
    run_id          text     not null,
    date_key        date     not null,
    year            integer  not null,
    quarter         integer  not null,
    year_quarter    text     not null,
    month           integer  not null,
    month_name      text     not null,
    year_month      text     not null,
    month_date      date     not null,
    day_of_month    integer  not null,
    iso_year        integer  not null,
    iso_week        integer  not null,
    iso_weekday     integer  not null,
    weekday_name    text     not null,
    is_weekend      boolean  not null,
    primary key (run_id, date_key)
);
