-- Grain: one row per period with survey answers. Definition: METRICS.md "Interactions and
-- service": CSAT = mean of 1..5 scores and % of 4-5; NPS = % promoters (9-10) - % detractors
-- (0-6), from -100 to 100.
with

answers as (
    select period_index, csat, nps from stg_interactions where csat is not null or nps is not null
),

per_period as (
    select
        period_index,
        count(csat) as csat_responses,
        avg(csat) as csat_mean,
        100.0 * sum(case when csat >= 4 then 1 else 0 end) / nullif(count(csat), 0) as csat_satisfied_pct,
        count(nps) as nps_responses,
        100.0 * sum(case when nps >= 9 then 1 else 0 end) / nullif(count(nps), 0) as promoters_pct,
        100.0 * sum(case when nps <= 6 then 1 else 0 end) / nullif(count(nps), 0) as detractors_pct,
    from answers
    group by period_index
),

final as (
    select
        per.period,
        s.csat_responses,
        round(s.csat_mean, 2) as csat_mean,
        round(s.csat_satisfied_pct, 2) as csat_satisfied_pct,
        s.nps_responses,
        round(s.promoters_pct, 2) as promoters_pct,
        round(s.detractors_pct, 2) as detractors_pct,
        round(s.promoters_pct - s.detractors_pct, 2) as nps,
        per.is_complete,
        per.period_index,
    from per_period as s
    join periods as per on per.period_index = s.period_index
)

select * from final
