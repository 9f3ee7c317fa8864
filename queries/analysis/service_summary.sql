-- Grain: one row. Definition: METRICS.md "Support tickets": all tickets before as_of, the open
-- backlog at as_of (opened, not resolved before it), resolution median and p90 in hours,
-- tickets per 100 known customers, repeat-contact customers (3 or more tickets in 90 days).
with

known as (select count(*) as customers from stg_customers),

repeat_contact as (
    select count(distinct t1.customer_id) as customers
    from (
        select t1.customer_id, t1.ticket_id, count(*) as tickets_in_90_days
        from tickets as t1
        join tickets as t2
            on t2.customer_id = t1.customer_id
            and t2.opened_at >= t1.opened_at
            and t2.opened_at < t1.opened_at + interval '90 days'
        group by t1.customer_id, t1.ticket_id
    ) as t1
    where tickets_in_90_days >= 3
),

final as (
    select
        count(*) as tickets,
        count(*) - count(resolved_at) as open_backlog,
        round(median(resolution_hours), 2) as median_resolution_hours,
        round(percentile_cont(0.9) within group (order by resolution_hours), 2) as p90_resolution_hours,
        round(100.0 * count(*) / nullif(max(k.customers), 0), 2) as tickets_per_100_customers,
        max(r.customers) as repeat_contact_customers,
    from tickets
    cross join known as k
    cross join repeat_contact as r
)

select * from final
