-- Grain: one row per cohort (period of first purchase) and age k = 0, 1, ... up to the last
-- period. Definition: METRICS.md "Cohort retention". retention = customers of the cohort with a
-- purchase in period c+k / cohort size ("on"); retention_on_or_after counts a purchase in c+k
-- or later; revenue_retention = the cohort's net revenue in c+k / its net revenue in c. Cells
-- in the incomplete period are empty (null), never zero.
with

cohorts as (select * from cohort_membership),

sizes as (
    select cohort_index, count(*) as cohort_size
    from cohorts
    group by cohort_index
),

cells as (
    select
        s.cohort_index,
        s.cohort_size,
        per.period_index,
        per.period_index - s.cohort_index as age,
        per.is_complete,
    from sizes as s
    join periods as per on per.period_index >= s.cohort_index
),

activity as (
    select
        c.cohort_index,
        cp.period_index,
        sum(case when cp.has_purchase then 1 else 0 end) as active,
        sum(cp.net_revenue) as net_revenue,
    from customer_periods as cp
    join cohorts as c on c.customer_key = cp.customer_key
    group by c.cohort_index, cp.period_index
),

still_buying as (
    select
        cl.cohort_index,
        cl.period_index,
        count(c.customer_key) as active_on_or_after,
    from cells as cl
    left join cohorts as c
        on c.cohort_index = cl.cohort_index
        and c.last_purchase_index >= cl.period_index
    group by cl.cohort_index, cl.period_index
),

first_revenue as (
    select cohort_index, net_revenue
    from activity
    where period_index = cohort_index
),

final as (
    select
        period_label(cl.cohort_index, param_period()) as cohort,
        cl.age,
        cl.cohort_size,
        case when cl.is_complete then coalesce(a.active, 0) end as active,
        case when cl.is_complete then round(1.0 * coalesce(a.active, 0) / cl.cohort_size, 4) end as retention,
        case when cl.is_complete then sb.active_on_or_after end as active_on_or_after,
        case when cl.is_complete then round(1.0 * sb.active_on_or_after / cl.cohort_size, 4) end as retention_on_or_after,
        case when cl.is_complete then round(coalesce(a.net_revenue, 0), 2) end as net_revenue,
        case when cl.is_complete and fr.net_revenue <> 0
            then round(coalesce(a.net_revenue, 0) / fr.net_revenue, 4) end as revenue_retention,
        period_label(cl.period_index, param_period()) as period,
        cl.cohort_index,
    from cells as cl
    left join activity as a on a.cohort_index = cl.cohort_index and a.period_index = cl.period_index
    left join still_buying as sb on sb.cohort_index = cl.cohort_index and sb.period_index = cl.period_index
    left join first_revenue as fr on fr.cohort_index = cl.cohort_index
)

select * from final
