create table if not exists published.segment_weekday_hour_sales (
    run_id             text          not null,
    segment_id         integer       not null,
    segment_name       text          not null,
    iso_weekday        integer       not null,
    weekday_name       text          not null,
    hour_of_day        integer       not null,
    revenue            numeric(14, 2) not null,
    orders             integer       not null,
    order_lines        integer       not null,
    primary key (run_id, segment_id, iso_weekday, hour_of_day)
);
