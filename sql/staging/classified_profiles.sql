-- classified_profiles (temporary, dropped at commit): every raw customer_personality line of
-- load %(load_id)s, typed where it parses, with the first rule it breaks (null: clean).
-- Needs `set local datestyle = 'ISO, DMY'` (Dt_Customer is DD-MM-YYYY).
-- Rules: bad_customer_id, unparseable_number (any count or amount), unparseable_date,
-- implausible_birth_year (before 1900 or under 16 at extract), duplicate_customer_id.
create temp table classified_profiles on commit drop as
with source as (
    select * from raw.customer_personality_rows where load_id = %(load_id)s
),

parsed as (
    select source.*,
           case when pg_input_is_valid(btrim(id), 'integer') then btrim(id)::integer end as customer_key,
           case when pg_input_is_valid(btrim(dt_customer), 'date') then btrim(dt_customer)::date end as enrolled,
           (select bool_and(pg_input_is_valid(btrim(v), 'numeric'))
              from unnest(array[year_birth, kidhome, teenhome, recency, mnt_wines, mnt_fruits,
                                mnt_meat_products, mnt_fish_products, mnt_sweet_products,
                                mnt_gold_prods, num_deals_purchases, num_web_purchases,
                                num_catalog_purchases, num_store_purchases, num_web_visits_month,
                                accepted_cmp1, accepted_cmp2, accepted_cmp3, accepted_cmp4,
                                accepted_cmp5, complain, response,
                                coalesce(nullif(btrim(income), ''), '0')]) as v) as numbers_ok,
           row_number() over (partition by btrim(id) order by source_line_number) as copy_number
      from source
),

final as (
    select parsed.*,
           case
               when customer_key is null then 'bad_customer_id'
               when not numbers_ok then 'unparseable_number'
               when enrolled is null then 'unparseable_date'
               when btrim(year_birth)::numeric < 1900
                    or btrim(year_birth)::numeric > extract(year from %(extract_at)s::timestamp) - 16
                   then 'implausible_birth_year'
               when copy_number > 1 then 'duplicate_customer_id'
           end as reason_code
      from parsed
)

select * from final
