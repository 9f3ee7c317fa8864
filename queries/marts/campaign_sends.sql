-- Grain: one row per customer and campaign sent to them before as_of: the first send, and the
-- purchases in the attribution window after it (METRICS.md "Campaign conversion").
with

sends as (
    select customer_id, campaign_id, min(local_at) as sent_at
    from stg_interactions
    where kind = 'campaign_sent' and campaign_id is not null
    group by customer_id, campaign_id
),

-- The window is a range join: a hash join on the customer alone pairs every send with every
-- purchase of its customer (at 100k customers, 890k sends x 110 lines). Time is cut into
-- buckets one window long, so a send's window (sent_at, sent_at + window] lies in its own
-- bucket and the next: the join is on customer and bucket, each send probed twice.
windows as (
    select
        customer_id,
        campaign_id,
        sent_at,
        sent_at + param_attribution_window() as until,
        cast(floor(date_part('epoch', sent_at) / (86400 * param_attribution_days())) as bigint) as bucket
    from sends
),

probes as (
    select * from windows
    union all
    select customer_id, campaign_id, sent_at, until, bucket + 1 from windows
),

purchases as (
    select
        t.customer_id,
        t.local_at,
        t.amount,
        cast(floor(date_part('epoch', t.local_at) / (86400 * param_attribution_days())) as bigint) as bucket
    from stg_transactions as t
    where t.is_purchase
),

attributed as (
    select
        s.customer_id,
        s.campaign_id,
        s.sent_at,
        count(t.local_at) as purchase_lines,
        coalesce(sum(t.amount), 0) as revenue,
    from probes as s
    left join purchases as t
        on t.customer_id = s.customer_id
        and t.bucket = s.bucket
        and t.local_at > s.sent_at
        and t.local_at <= s.until
    group by s.customer_id, s.campaign_id, s.sent_at
),

final as (
    select
        customer_id,
        campaign_id,
        sent_at,
        purchase_lines > 0 as is_converted,
        revenue,
    from attributed
)

select * from final
