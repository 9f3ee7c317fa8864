-- Grain: one row per calendar period (params.period) from the first transaction's period to the
-- period holding the day before as_of. A period is complete when it ends on or before as_of
-- (METRICS.md "Time and money": an incomplete period is flagged, never silently compared).
-- The first period is read from customer_periods, which holds every transaction's period.
with

bounds as (
    select
        min(t.period_index) as first_index,
        period_index(cast(param_as_of_date() - interval '1 day' as date), param_period()) as last_index,
    from customer_periods as t
),

indices as (
    select unnest(range(first_index, last_index + 1)) as period_index
    from bounds
    where first_index is not null
),

final as (
    select
        i.period_index,
        period_label(i.period_index, param_period()) as period,
        period_start(i.period_index, param_period()) as period_start,
        period_start(i.period_index + 1, param_period()) as period_end,
        period_start(i.period_index + 1, param_period()) <= param_as_of_date() as is_complete,
    from indices as i
)

select * from final
