-- Grain: one row per period and interaction channel. Definition: METRICS.md "Interactions and
-- service", channel mix: interactions per channel per period, and the share of the period's.
with

counts as (
    select
        period_index,
        channel,
        count(*) as interactions,
        count(distinct customer_id) as customers,
    from stg_interactions
    group by period_index, channel
),

final as (
    select
        per.period,
        c.channel,
        c.interactions,
        c.customers,
        round(100.0 * c.interactions / sum(c.interactions) over (partition by c.period_index), 2) as share_pct,
        per.is_complete,
        per.period_index,
    from counts as c
    join periods as per on per.period_index = c.period_index
)

select * from final
