-- Grain: one row per campaign, and one for all campaigns ('all'). Definition: METRICS.md
-- "Interactions and service": of the customers sent a campaign, the share with a purchase in
-- the attribution_days after it, and that revenue (the purchases in the window).
with

sends as (select * from campaign_sends),

opens as (
    select customer_id, campaign_id,
        bool_or(kind = 'campaign_open') as opened,
        bool_or(kind = 'campaign_click') as clicked,
    from stg_interactions
    where kind in ('campaign_open', 'campaign_click')
    group by customer_id, campaign_id
),

per_campaign as (
    select
        s.campaign_id,
        min(s.sent_at) as first_sent_at,
        count(*) as sent,
        sum(case when o.opened then 1 else 0 end) as opened,
        sum(case when o.clicked then 1 else 0 end) as clicked,
        sum(case when s.is_converted then 1 else 0 end) as converted,
        sum(case when s.is_converted then s.revenue else 0 end) as revenue,
    from sends as s
    left join opens as o on o.customer_id = s.customer_id and o.campaign_id = s.campaign_id
    group by s.campaign_id
),

with_total as (
    select * from per_campaign
    union all
    select 'all', min(first_sent_at), sum(sent), sum(opened), sum(clicked), sum(converted), sum(revenue)
    from per_campaign
    having count(*) > 0
),

final as (
    select
        campaign_id,
        cast(first_sent_at as date) as first_sent_date,
        sent,
        opened,
        clicked,
        converted,
        round(100.0 * opened / sent, 2) as open_rate_pct,
        round(100.0 * clicked / sent, 2) as click_rate_pct,
        round(100.0 * converted / sent, 2) as conversion_rate_pct,
        round(revenue, 2) as revenue,
    from with_total
)

select * from final
