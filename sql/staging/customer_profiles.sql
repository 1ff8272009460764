-- staging.customer_profiles: the clean customer_personality lines, typed.
-- Grain: one row per customer. Marital status: Alone -> Single; YOLO, Absurd -> Other.
insert into staging.customer_profiles (
    load_id, source_line_number, customer_id, birth_year, education, marital_status, income,
    kids_at_home, teens_at_home, enrolled_on, recency_days, spend_wines, spend_fruits,
    spend_meat, spend_fish, spend_sweets, spend_gold, purchases_deals, purchases_web,
    purchases_catalog, purchases_store, web_visits_month, accepted_campaigns, has_complained,
    has_responded
)
select load_id, source_line_number, customer_key, btrim(year_birth)::integer,
       btrim(education),
       case btrim(marital_status)
           when 'Alone' then 'Single' when 'YOLO' then 'Other' when 'Absurd' then 'Other'
           else btrim(marital_status) end,
       nullif(btrim(income), '')::numeric,
       btrim(kidhome)::integer, btrim(teenhome)::integer, enrolled, btrim(recency)::integer,
       btrim(mnt_wines)::numeric, btrim(mnt_fruits)::numeric, btrim(mnt_meat_products)::numeric,
       btrim(mnt_fish_products)::numeric, btrim(mnt_sweet_products)::numeric,
       btrim(mnt_gold_prods)::numeric,
       btrim(num_deals_purchases)::integer, btrim(num_web_purchases)::integer,
       btrim(num_catalog_purchases)::integer, btrim(num_store_purchases)::integer,
       btrim(num_web_visits_month)::integer,
       btrim(accepted_cmp1)::integer + btrim(accepted_cmp2)::integer + btrim(accepted_cmp3)::integer
           + btrim(accepted_cmp4)::integer + btrim(accepted_cmp5)::integer,
       btrim(complain)::integer = 1, btrim(response)::integer = 1
  from classified_profiles
 where reason_code is null
