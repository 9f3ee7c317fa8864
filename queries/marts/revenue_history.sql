-- Grain: one row per complete period (params.forecast_period) from the first period with a
-- transaction to the last complete one before as_of; periods without sales are 0.
-- Net revenue includes refunds (METRICS.md "Time and money").
with

revenue as (
    select period_index(t.local_date, param_forecast_period()) as period_index, sum(t.amount) as net_revenue
    from stg_transactions as t
    group by 1
),

bounds as (
    select
        min(r.period_index) as first_index,
        -- The period holding as_of is incomplete (or empty): the last complete one is before it.
        period_index(param_as_of_date(), param_forecast_period()) - 1 as last_index,
    from revenue as r
    -- No transactions, no bounds (and no periods).
    having count(*) > 0
),

indices as (
    select unnest(range(first_index, last_index + 1)) as period_index from bounds
),

final as (
    select
        i.period_index,
        period_label(i.period_index, param_forecast_period()) as period,
        coalesce(r.net_revenue, 0) as net_revenue,
    from indices as i
    left join revenue as r on r.period_index = i.period_index
)

select * from final
