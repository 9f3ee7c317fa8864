-- Grain: one row per lifecycle status, all five always present. Counts add up to the known
-- customers; shares sum to 100.
with

statuses as (
    select * from (values (1, 'prospect'), (2, 'new'), (3, 'active'), (4, 'at_risk'), (5, 'churned')) as s (status_order, status)
),

counts as (
    select status, count(*) as customers
    from lifecycle
    group by status
),

final as (
    select
        s.status,
        coalesce(c.customers, 0) as customers,
        round(100.0 * coalesce(c.customers, 0) / nullif(sum(coalesce(c.customers, 0)) over (), 0), 2) as share_pct,
        s.status_order,
    from statuses as s
    left join counts as c on c.status = s.status
)

select * from final
