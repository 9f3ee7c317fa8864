-- Grain: one row per customer and campaign sent to them before as_of: the first send, and the
-- purchases in the attribution window after it (METRICS.md "Campaign conversion").
with

params as (select * from params),

sends as (
    select customer_id, campaign_id, min(local_at) as sent_at
    from stg_interactions
    where kind = 'campaign_sent' and campaign_id is not null
    group by customer_id, campaign_id
),

attributed as (
    select
        s.customer_id,
        s.campaign_id,
        s.sent_at,
        count(distinct t.order_key) as purchase_orders,
        coalesce(sum(t.amount), 0) as revenue,
    from sends as s
    cross join params as p
    left join stg_transactions as t
        on t.customer_id = s.customer_id
        and t.is_purchase
        and t.local_at > s.sent_at
        and t.local_at <= s.sent_at + p.attribution_window
    group by s.customer_id, s.campaign_id, s.sent_at
),

final as (
    select
        customer_id,
        campaign_id,
        sent_at,
        purchase_orders > 0 as is_converted,
        revenue,
    from attributed
)

select * from final
