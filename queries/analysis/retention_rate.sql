-- Grain: one row per period.
-- Definition: METRICS.md "Retention rate": (E - N) / S * 100 with S = active in P-1, E = active
-- in P, N = first purchase in P; retained = active in both; reactivated = E - N - retained;
-- strict = retained / S * 100. Rates are empty (null) where S = 0. churn_rate = 100 - strict.
with

active as (select * from customer_active_periods),

ends as (
    select period_index, count(*) as customers
    from active
    group by period_index
),

retained as (
    select cur.period_index, count(*) as customers
    from active as cur
    join active as prev
        on prev.customer_key = cur.customer_key
        and prev.period_index = cur.period_index - 1
    group by cur.period_index
),

new_customers as (
    select cohort_index as period_index, count(*) as customers
    from cohort_membership
    group by cohort_index
),

counts as (
    select
        per.period_index,
        per.period,
        per.is_complete,
        coalesce(s.customers, 0) as S,
        coalesce(e.customers, 0) as E,
        coalesce(n.customers, 0) as N,
        coalesce(r.customers, 0) as retained,
    from periods as per
    left join ends as s on s.period_index = per.period_index - 1
    left join ends as e on e.period_index = per.period_index
    left join new_customers as n on n.period_index = per.period_index
    left join retained as r on r.period_index = per.period_index
),

final as (
    select
        period,
        S as "S",
        E as "E",
        N as "N",
        retained,
        E - N - retained as reactivated,
        case when S > 0 then round(100.0 * (E - N) / S, 2) end as retention_rate,
        case when S > 0 then round(100.0 * retained / S, 2) end as strict_retention_rate,
        case when S > 0 then round(100.0 * (S - retained) / S, 2) end as churn_rate,
        is_complete,
        period_index,
    from counts
)

select * from final
