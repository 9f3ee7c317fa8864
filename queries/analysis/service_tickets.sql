-- Grain: one row per period with tickets. Definition: METRICS.md "Support tickets": median and
-- p90 hours from opened to resolved (tickets opened in the period and resolved before as_of),
-- tickets per 100 known customers.
with

known as (select count(*) as customers from stg_customers),

per_period as (
    select
        period_index,
        count(*) as tickets,
        count(resolved_at) as resolved,
        median(resolution_hours) as median_hours,
        percentile_cont(0.9) within group (order by resolution_hours) as p90_hours,
    from tickets
    group by period_index
),

final as (
    select
        per.period,
        t.tickets,
        t.resolved,
        round(t.median_hours, 2) as median_resolution_hours,
        round(t.p90_hours, 2) as p90_resolution_hours,
        round(100.0 * t.tickets / nullif(k.customers, 0), 2) as tickets_per_100_customers,
        per.is_complete,
        per.period_index,
    from per_period as t
    join periods as per on per.period_index = t.period_index
    cross join known as k
)

select * from final
