-- Grain: one row per age k. Definition: METRICS.md "Cohort retention", the mean row: the
-- average over the cohorts that reached age k (complete cells only), weighted by cohort size.
with

cells as (select * from retention_cohorts where active is not null),

final as (
    select
        age,
        count(*) as cohorts,
        sum(cohort_size) as customers,
        round(1.0 * sum(active) / sum(cohort_size), 4) as retention,
        round(1.0 * sum(active_on_or_after) / sum(cohort_size), 4) as retention_on_or_after,
    from cells
    group by age
)

select * from final
