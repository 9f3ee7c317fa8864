-- Grain: one row per region and product category with revenue in the last complete period or
-- the one before: which products sell where, and where they grow. Net revenue includes refunds;
-- growth_pct is empty when the period before had no revenue.
with

last_period as (
    select max(period_index) as period_index from periods where is_complete
),

revenue as (
    select
        coalesce(nullif(c.country, ''), 'unknown') as country,
        coalesce(nullif(c.region, ''), 'unknown') as region,
        coalesce(nullif(t.product_category, ''), 'unknown') as category,
        sum(case when t.period_index = lp.period_index then t.amount else 0 end) as net_revenue,
        sum(case when t.period_index = lp.period_index - 1 then t.amount else 0 end) as net_revenue_before,
    from stg_transactions as t
    cross join last_period as lp
    left join stg_customers as c on c.customer_id = t.customer_id
    where t.period_index between lp.period_index - 1 and lp.period_index
    group by 1, 2, 3
),

final as (
    select
        period_label(lp.period_index, param_period()) as period,
        r.country,
        r.region,
        r.category,
        round(r.net_revenue, 2) as net_revenue,
        round(r.net_revenue_before, 2) as net_revenue_before,
        case when r.net_revenue_before > 0
            then round(100.0 * (r.net_revenue - r.net_revenue_before) / r.net_revenue_before, 2) end as growth_pct,
        round(100.0 * r.net_revenue / nullif(sum(r.net_revenue) over (partition by r.country, r.region), 0), 2) as region_share_pct,
    from revenue as r
    cross join last_period as lp
)

select * from final
