-- ml.profile_features for run %(run_id)s: the customer_personality customers as of
-- %(as_of_date)s: age (whole years from the birth year), income, household, spend per category,
-- purchases per channel, web visits, campaign responses, tenure since enrolment.
-- Grain: one row per customer enrolled before the as-of date, of the customers of one block
-- (%(block_first)s <= customer_id < %(block_next)s, a null bound open: include/db/blocks.py).
insert into ml.profile_features (
    run_id, customer_id, as_of_date, education, marital_status, age, income, kids_at_home,
    teens_at_home, recency_days, tenure_days, total_spend, spend_wines, spend_fruits, spend_meat,
    spend_fish, spend_sweets, spend_gold, total_purchases, purchases_deals, purchases_web,
    purchases_catalog, purchases_store, web_visits_month, accepted_campaigns, has_responded
)
with profiles as (
    select customer_id, birth_year, education, marital_status, income, kids_at_home,
           teens_at_home, enrolled_on, recency_days, spend_wines, spend_fruits, spend_meat,
           spend_fish, spend_sweets, spend_gold, purchases_deals, purchases_web,
           purchases_catalog, purchases_store, web_visits_month, accepted_campaigns,
           has_responded
      from staging.customer_profiles
     where enrolled_on < %(as_of_date)s::date
       and (%(block_first)s::integer is null or customer_id >= %(block_first)s::integer)
       and (%(block_next)s::integer is null or customer_id < %(block_next)s::integer)
),

final as (
    select %(run_id)s as run_id,
           customer_id,
           %(as_of_date)s::date as as_of_date,
           education,
           marital_status,
           extract(year from %(as_of_date)s::date)::integer - birth_year as age,
           income,
           kids_at_home,
           teens_at_home,
           recency_days,
           %(as_of_date)s::date - enrolled_on as tenure_days,
           spend_wines + spend_fruits + spend_meat + spend_fish + spend_sweets + spend_gold
               as total_spend,
           spend_wines, spend_fruits, spend_meat, spend_fish, spend_sweets, spend_gold,
           purchases_web + purchases_catalog + purchases_store as total_purchases,
           purchases_deals, purchases_web, purchases_catalog, purchases_store,
           web_visits_month,
           accepted_campaigns,
           has_responded
      from profiles
)

select run_id, customer_id, as_of_date, education, marital_status, age, income, kids_at_home,
       teens_at_home, recency_days, tenure_days, total_spend, spend_wines, spend_fruits,
       spend_meat, spend_fish, spend_sweets, spend_gold, total_purchases, purchases_deals,
       purchases_web, purchases_catalog, purchases_store, web_visits_month, accepted_campaigns,
       has_responded
  from final
