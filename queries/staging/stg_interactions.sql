-- Grain: one row per interaction strictly before as_of, in the report's time zone.
with

interactions as (select * from interactions),

final as (
    select
        i.interaction_id,
        i.customer_id,
        i.ts as ts_at,
        to_report_time(i.ts) as local_at,
        to_report_date(i.ts) as local_date,
        period_index(to_report_date(i.ts), param_period()) as period_index,
        i.channel,
        i.kind,
        i.campaign_id,
        i.ticket_id,
        to_report_time(i.resolved_ts) as resolved_local_at,
        i.csat,
        i.nps,
        i.outcome,
    from interactions as i
    where to_report_time(i.ts) < param_as_of()
)

select * from final
