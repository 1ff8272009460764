-- staging.rejected_profiles: customer_personality lines that broke a rule, kept whole.
-- Grain: one row per rejected raw line.
insert into staging.rejected_profiles (load_id, source_line_number, reason_code, reason, raw_line)
select load_id, source_line_number, reason_code,
       case reason_code
           when 'bad_customer_id' then 'ID ' || coalesce(id, 'NULL') || ' is not a whole number'
           when 'unparseable_number' then 'a count or amount is not a number'
           when 'unparseable_date' then 'Dt_Customer ' || coalesce(dt_customer, 'NULL') || ' is not a DD-MM-YYYY date'
           when 'implausible_birth_year' then 'Year_Birth ' || year_birth || ' is implausible'
           when 'duplicate_customer_id' then 'ID ' || id || ' appears on an earlier line'
       end,
       to_jsonb(classified_profiles) - 'customer_key' - 'enrolled' - 'numbers_ok' - 'copy_number'
           - 'reason_code' - 'load_id' - 'source_line_number'
  from classified_profiles
 where reason_code is not null
