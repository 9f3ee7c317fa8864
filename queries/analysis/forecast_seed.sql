-- Grain: one row per period: the last forecast_lookback complete periods (kind = 'actual') and
-- the next forecast_horizon periods (kind = 'forecast'), in params.forecast_period.
-- Definition: METRICS.md "Sales forecast", the seed formula: Average Sales = mean net revenue,
-- Growth Rate = mean of the period-over-period growth rates (a period after one with no revenue
-- has no rate), Projected Sales(T+h) = Average Sales * (1 + Growth Rate)^h.
with

history as (select * from revenue_history),

actuals as (
    select h.period_index, h.net_revenue
    from history as h
    where h.period_index > (select max(period_index) from history) - param_forecast_lookback()
),

rates as (
    select
        cur.period_index,
        case when prev.net_revenue <> 0 then cur.net_revenue / prev.net_revenue - 1 end as growth_rate,
    from actuals as cur
    join actuals as prev on prev.period_index = cur.period_index - 1
),

model as (
    select
        (select avg(net_revenue) from actuals) as average_sales,
        (select avg(growth_rate) from rates) as growth_rate,
        (select count(*) from actuals) as periods_used,
        (select max(period_index) from history) as last_index,
),

horizon as (
    select unnest(range(1, param_forecast_horizon() + 1)) as h
),

final as (
    select
        period_label(a.period_index, param_forecast_period()) as period,
        'actual' as kind,
        cast(null as bigint) as h,
        round(a.net_revenue, 2) as net_revenue,
        round(m.average_sales, 2) as average_sales,
        round(m.growth_rate, 6) as growth_rate,
        m.periods_used,
    from actuals as a
    cross join model as m
    union all
    select
        period_label(m.last_index + hz.h, param_forecast_period()),
        'forecast',
        hz.h,
        round(m.average_sales * power(1 + m.growth_rate, hz.h), 2),
        round(m.average_sales, 2),
        round(m.growth_rate, 6),
        m.periods_used,
    from horizon as hz
    cross join model as m
)

select * from final
