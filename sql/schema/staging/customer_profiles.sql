-- Grain: one row per customer of the customer_personality layout (marketing_campaign.csv).
create table if not exists staging.customer_profiles (
    load_id              integer not null,
    source_line_number   integer not null,
    customer_id          integer primary key,
    birth_year           integer not null,
    education            text    not null,
    marital_status       text    not null,
    income               numeric(12, 2),          -- null where the source has none
    kids_at_home         integer not null,
    teens_at_home        integer not null,
    enrolled_on          date    not null,
    recency_days         integer not null,
    spend_wines          numeric(12, 2) not null,
    spend_fruits         numeric(12, 2) not null,
    spend_meat           numeric(12, 2) not null,
    spend_fish           numeric(12, 2) not null,
    spend_sweets         numeric(12, 2) not null,
    spend_gold           numeric(12, 2) not null,
    purchases_deals      integer not null,
    purchases_web        integer not null,
    purchases_catalog    integer not null,
    purchases_store      integer not null,
    web_visits_month     integer not null,
    accepted_campaigns   integer not null,        -- AcceptedCmp1..5 summed
    has_complained       boolean not null,
    has_responded        boolean not null
);
