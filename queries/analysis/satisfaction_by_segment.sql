-- Grain: one row per RFM segment (and 'unscored' for customers without a purchase in the RFM
-- window) with survey answers before as_of. CSAT and NPS as in satisfaction.sql.
with

answers as (
    select i.customer_id, i.csat, i.nps, coalesce(r.segment, 'unscored') as segment
    from stg_interactions as i
    left join rfm as r on r.customer_id = i.customer_id
    where i.csat is not null or i.nps is not null
),

final as (
    select
        segment,
        count(csat) as csat_responses,
        round(avg(csat), 2) as csat_mean,
        round(100.0 * sum(case when csat >= 4 then 1 else 0 end) / nullif(count(csat), 0), 2) as csat_satisfied_pct,
        count(nps) as nps_responses,
        round(
            100.0 * sum(case when nps >= 9 then 1 else 0 end) / nullif(count(nps), 0)
            - 100.0 * sum(case when nps <= 6 then 1 else 0 end) / nullif(count(nps), 0),
            2
        ) as nps,
    from answers
    group by segment
)

select * from final
