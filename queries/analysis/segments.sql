-- Grain: one row per segmentation (rfm, demographic, geographic, behavioural), dimension and
-- segment. Within one dimension the customers add up to all customers with a purchase before
-- as_of and the shares sum to 100. strict_retention_pct: of the segment's customers active in
-- the period before the last complete one, the share active in the last complete one (empty
-- when none was active before).
with

profile as (select * from customer_profile),

long as (
    select 'rfm' as segmentation, 'rfm_segment' as dimension, rfm_segment as segment, customer_id, purchase_orders, net_revenue, active_previous, active_last from profile
    union all select 'demographic', 'age_band', age_band, customer_id, purchase_orders, net_revenue, active_previous, active_last from profile
    union all select 'demographic', 'gender', gender, customer_id, purchase_orders, net_revenue, active_previous, active_last from profile
    union all select 'demographic', 'income_band', income_band, customer_id, purchase_orders, net_revenue, active_previous, active_last from profile
    union all select 'geographic', 'country', country, customer_id, purchase_orders, net_revenue, active_previous, active_last from profile
    union all select 'geographic', 'region', region, customer_id, purchase_orders, net_revenue, active_previous, active_last from profile
    union all select 'geographic', 'city', city, customer_id, purchase_orders, net_revenue, active_previous, active_last from profile
    union all select 'behavioural', 'preferred_channel', preferred_channel, customer_id, purchase_orders, net_revenue, active_previous, active_last from profile
    union all select 'behavioural', 'preferred_category', preferred_category, customer_id, purchase_orders, net_revenue, active_previous, active_last from profile
    union all select 'behavioural', 'frequency_band', frequency_band, customer_id, purchase_orders, net_revenue, active_previous, active_last from profile
),

per_segment as (
    select
        segmentation,
        dimension,
        segment,
        count(*) as customers,
        sum(net_revenue) as net_revenue,
        sum(purchase_orders) as purchase_orders,
        sum(case when active_previous then 1 else 0 end) as active_previous,
        sum(case when active_previous and active_last then 1 else 0 end) as retained,
    from long
    group by segmentation, dimension, segment
),

final as (
    select
        segmentation,
        dimension,
        segment,
        customers,
        round(100.0 * customers / sum(customers) over (partition by dimension), 2) as share_pct,
        round(net_revenue, 2) as net_revenue,
        round(100.0 * net_revenue / nullif(sum(net_revenue) over (partition by dimension), 0), 2) as revenue_share_pct,
        round(net_revenue / nullif(purchase_orders, 0), 2) as avg_order_value,
        round(1.0 * purchase_orders / customers, 2) as purchases_per_customer,
        case when active_previous > 0 then round(100.0 * retained / active_previous, 2) end as strict_retention_pct,
    from per_segment
)

select * from final
