-- Grain: one row per complete period. Churn per period (METRICS.md "Retention rate"): of the S
-- customers active at a period's start, those who did not buy in it, S - retained, and the
-- churn rate 100 - strict retention. Incomplete periods are left out.
with

rates as (select * from retention_rate),

final as (
    select
        r.period,
        r.period_index,
        r."S" as active_at_start,
        r."S" - r.retained as churned,
        r.churn_rate,
    from rates as r
    where r.is_complete
)

select * from final
