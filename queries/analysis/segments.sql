-- Grain: one row per segmentation (rfm, demographic, geographic, behavioural), dimension and
-- segment. Within one dimension the customers add up to all customers with a purchase before
-- as_of and the shares sum to 100. strict_retention_pct: of the segment's customers active in
-- the period before the last complete one, the share active in the last complete one (empty
-- when none was active before).
with

profile as (select * from customer_profile),

-- One scan of the profile, unpivoted: a row per customer and dimension.
dimensions as (
    select * from (values
        ('rfm', 'rfm_segment'),
        ('demographic', 'age_band'),
        ('demographic', 'gender'),
        ('demographic', 'income_band'),
        ('geographic', 'country'),
        ('geographic', 'region'),
        ('geographic', 'city'),
        ('behavioural', 'preferred_channel'),
        ('behavioural', 'preferred_category'),
        ('behavioural', 'frequency_band')
    ) as d (segmentation, dimension)
),

long as (
    select
        d.segmentation,
        d.dimension,
        case d.dimension
            when 'rfm_segment' then p.rfm_segment
            when 'age_band' then p.age_band
            when 'gender' then p.gender
            when 'income_band' then p.income_band
            when 'country' then p.country
            when 'region' then p.region
            when 'city' then p.city
            when 'preferred_channel' then p.preferred_channel
            when 'preferred_category' then p.preferred_category
            when 'frequency_band' then p.frequency_band
        end as segment,
        p.customer_id,
        p.purchase_orders,
        p.net_revenue,
        p.active_previous,
        p.active_last,
    from profile as p
    cross join dimensions as d
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
