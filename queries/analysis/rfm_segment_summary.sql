-- Grain: one row per named RFM segment that has customers.
-- Counts add up to the customers scored; shares sum to 100 (METRICS.md "Named RFM segments").
with

rfm as (select * from rfm),

inputs as (select * from customer_rfm_inputs),

per_segment as (
    select
        r.segment,
        min(r.action) as action,
        count(*) as customers,
        sum(i.net_revenue) as net_revenue,
        sum(r.frequency) as purchase_orders,
    from rfm as r
    join inputs as i on i.customer_id = r.customer_id
    group by r.segment
),

final as (
    select
        segment,
        customers,
        round(100.0 * customers / sum(customers) over (), 2) as share_pct,
        round(net_revenue, 2) as net_revenue,
        round(100.0 * net_revenue / nullif(sum(net_revenue) over (), 0), 2) as revenue_share_pct,
        round(net_revenue / nullif(purchase_orders, 0), 2) as avg_order_value,
        round(1.0 * purchase_orders / customers, 2) as orders_per_customer,
        action,
    from per_segment
)

select * from final
order by customers desc, segment
