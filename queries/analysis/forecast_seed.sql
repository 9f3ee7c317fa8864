-- Grain: one row per period: the last forecast_lookback complete periods (kind = 'actual') and
-- the next forecast_horizon periods (kind = 'forecast'), in params.forecast_period.
-- Definition: METRICS.md "Sales forecast", the seed formula: Average Sales = mean net revenue,
-- Growth Rate = mean of the period-over-period growth rates (a period after one with no revenue
-- has no rate), Projected Sales(T+h) = Average Sales * (1 + Growth Rate)^h.
with

params as (select * from params),

revenue as (
    select period_index(t.local_date, p.forecast_period) as period_index, sum(t.amount) as net_revenue
    from stg_transactions as t
    cross join params as p
    group by 1
),

bounds as (
    select
        -- The period holding as_of is incomplete (or empty): the last complete one is before it.
        period_index(p.as_of_date, p.forecast_period) - 1 as last_index,
        greatest(period_index(p.as_of_date, p.forecast_period) - p.forecast_lookback, min(r.period_index)) as first_index,
    from revenue as r
    cross join params as p
    group by p.as_of_date, p.forecast_period, p.forecast_lookback
),

window_periods as (
    select unnest(range(first_index, last_index + 1)) as period_index from bounds
),

actuals as (
    select w.period_index, coalesce(r.net_revenue, 0) as net_revenue
    from window_periods as w
    left join revenue as r on r.period_index = w.period_index
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
        b.last_index,
    from bounds as b
),

horizon as (
    select unnest(range(1, p.forecast_horizon + 1)) as h from params as p
),

final as (
    select
        period_label(a.period_index, p.forecast_period) as period,
        'actual' as kind,
        cast(null as bigint) as h,
        round(a.net_revenue, 2) as net_revenue,
        round(m.average_sales, 2) as average_sales,
        round(m.growth_rate, 6) as growth_rate,
        m.periods_used,
    from actuals as a
    cross join model as m
    cross join params as p
    union all
    select
        period_label(m.last_index + hz.h, p.forecast_period),
        'forecast',
        hz.h,
        round(m.average_sales * power(1 + m.growth_rate, hz.h), 2),
        round(m.average_sales, 2),
        round(m.growth_rate, 6),
        m.periods_used,
    from horizon as hz
    cross join model as m
    cross join params as p
)

select * from final
