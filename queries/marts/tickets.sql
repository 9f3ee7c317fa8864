-- Grain: one row per support ticket opened before as_of: its resolution, in hours, when it was
-- resolved before as_of (METRICS.md "Support tickets").
with

final as (
    select
        i.interaction_id,
        coalesce(i.ticket_id, i.interaction_id) as ticket_id,
        i.customer_id,
        i.local_at as opened_at,
        i.period_index,
        case when i.resolved_local_at < param_as_of() then i.resolved_local_at end as resolved_at,
        case when i.resolved_local_at < param_as_of()
            then (date_part('epoch', i.resolved_local_at) - date_part('epoch', i.local_at)) / 3600.0
        end as resolution_hours,
    from stg_interactions as i
    where i.kind = 'ticket'
)

select * from final
