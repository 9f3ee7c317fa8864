-- Grain: one row per customer with a suggestion. Definition: METRICS.md "Cross-sell affinity":
-- the highest-lift category B not yet bought, from the categories A they bought, among pairs
-- with support of at least min_support (ties: higher confidence, then the name). Only pairs with
-- lift above 1: a pair bought together less often than by chance is no reason to suggest.
with

params as (select * from params),

candidates as (
    select
        cc.customer_id,
        a.category_a as because_of,
        a.category_b as suggestion,
        a.lift,
        a.confidence,
        a.support,
    from customer_categories as cc
    join category_affinity as a on a.category_a = cc.category
    cross join params as p
    left join customer_categories as owned
        on owned.customer_id = cc.customer_id and owned.category = a.category_b
    where owned.customer_id is null and a.support >= p.min_support and a.lift > 1
),

ranked as (
    select
        *,
        row_number() over (partition by customer_id order by lift desc, confidence desc, suggestion, because_of) as k,
    from candidates
),

final as (
    select customer_id, suggestion as next_category, because_of, lift, confidence, support
    from ranked
    where k = 1
)

select * from final
