-- Grain: one row per rejected customer_personality line.
create table if not exists staging.rejected_profiles (
    load_id             integer not null,
    source_line_number  integer not null,
    reason_code         text    not null,
    reason              text    not null,
    raw_line            jsonb   not null,
    primary key (load_id, source_line_number)
);
