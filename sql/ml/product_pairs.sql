-- published.product_pairs of one run: products bought on the same invoice (guests included).
-- Grain: one row per ordered pair (product_id, other_product_id) with support >= %(min_support)s
-- (a share of all sale invoices). A pair is never more frequent than either product, so only
-- products at or above the threshold are paired (the a-priori cut), each unordered pair is
-- counted once on integer keys, then written in both directions (confidence is directional).
with invoice_products as (
    select distinct invoice_no, product_id
      from staging.order_lines
),

totals as (
    select count(distinct invoice_no) as total_invoices
      from invoice_products
),

product_invoices as (
    select product_id, count(*) as invoices
      from invoice_products
     group by product_id
),

frequent_products as (
    select p.product_id, p.invoices, row_number() over (order by p.product_id) as product_key
      from product_invoices as p
     cross join totals as t
     where p.invoices >= %(min_support)s * t.total_invoices
),

invoice_keys as (
    select invoice_no, row_number() over (order by invoice_no) as invoice_key
      from (select distinct invoice_no from invoice_products) as i
),

frequent_lines as (
    select k.invoice_key, f.product_key
      from invoice_products as i
      join frequent_products as f on f.product_id = i.product_id
      join invoice_keys as k on k.invoice_no = i.invoice_no
),

unordered_pairs as (
    select a.product_key, b.product_key as other_product_key, count(*) as invoices
      from frequent_lines as a
      join frequent_lines as b on b.invoice_key = a.invoice_key and b.product_key > a.product_key
     group by a.product_key, b.product_key
    having count(*) >= %(min_support)s * (select total_invoices from totals)
),

both_directions as (
    select product_key, other_product_key, invoices from unordered_pairs
    union all
    select other_product_key, product_key, invoices from unordered_pairs
),

final as (
    select fa.product_id,
           fb.product_id                                                                   as other_product_id,
           p.invoices,
           p.invoices::double precision / t.total_invoices                                 as support,
           p.invoices::double precision / fa.invoices                                      as confidence,
           p.invoices::double precision * t.total_invoices / (fa.invoices * fb.invoices)   as lift,
           fa.invoices                                                                     as product_invoices,
           fb.invoices                                                                     as other_product_invoices,
           t.total_invoices
      from both_directions as p
      join frequent_products as fa on fa.product_key = p.product_key
      join frequent_products as fb on fb.product_key = p.other_product_key
     cross join totals as t
)

insert into published.product_pairs (
    run_id, product_id, other_product_id, invoices, support, confidence, lift, product_invoices,
    other_product_invoices, total_invoices
)
select %(run_id)s, product_id, other_product_id, invoices, support, confidence, lift, product_invoices,
       other_product_invoices, total_invoices
  from final;
