-- Grain: one row per customer with a suggestion. Definition: METRICS.md "Cross-sell affinity":
-- the highest-lift category B not yet bought, from the categories A they bought, among pairs
-- with support of at least min_support (ties: higher confidence, then the name). Only pairs with
-- lift above 1: a pair bought together less often than by chance is no reason to suggest.
-- Pairs are ranked once (132 pairs for 12 categories), so a customer's suggestion is the
-- lowest rank among the pairs whose A they own and whose B they do not: an aggregate, where a
-- rank over every candidate row sorted millions of rows.
with

pairs as (
    select
        a.category_a as because_of,
        a.category_b as suggestion,
        a.lift,
        a.confidence,
        a.support,
        row_number() over (order by a.lift desc, a.confidence desc, a.category_b, a.category_a) as pair_rank,
    from category_affinity as a
    where a.support >= param_min_support() and a.lift > 1
),

owned as (
    select customer_id, array_agg(category) as categories
    from customer_categories
    group by customer_id
),

best as (
    select o.customer_id, min(r.pair_rank) as pair_rank
    from owned as o
    cross join pairs as r
    where array_has(o.categories, r.because_of) and not array_has(o.categories, r.suggestion)
    group by o.customer_id
),

final as (
    select b.customer_id, r.suggestion as next_category, r.because_of, r.lift, r.confidence, r.support
    from best as b
    join pairs as r on r.pair_rank = b.pair_rank
)

select * from final
