-- Grain: one row per ordered pair of product categories (A, B) bought by a common customer.
-- Definition: METRICS.md "Cross-sell affinity", over customers: support = customers who bought
-- both / all customers with a categorised purchase; confidence(A->B) = both / bought A;
-- lift = confidence(A->B) / support(B).
with

cc as (select * from customer_categories),

buyers as (select count(distinct customer_id) as customers from cc),

per_category as (
    select category, count(*) as customers from cc group by category
),

pairs as (
    select a.category as category_a, b.category as category_b, count(*) as both_customers
    from cc as a
    join cc as b on b.customer_id = a.customer_id and b.category <> a.category
    group by a.category, b.category
),

final as (
    select
        p.category_a,
        p.category_b,
        p.both_customers,
        ca.customers as customers_a,
        cb.customers as customers_b,
        round(1.0 * p.both_customers / n.customers, 4) as support,
        round(1.0 * p.both_customers / ca.customers, 4) as confidence,
        round((1.0 * p.both_customers / ca.customers) / (1.0 * cb.customers / n.customers), 4) as lift,
    from pairs as p
    cross join buyers as n
    join per_category as ca on ca.category = p.category_a
    join per_category as cb on cb.category = p.category_b
)

select * from final
