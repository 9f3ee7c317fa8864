-- Grain: one row per period. Definition: METRICS.md "Growth accounting and lifecycle":
-- new (first purchase in P), returning (purchase in P and P-1), resurrecting (purchase in P,
-- none in P-1, not new), dormant (purchase in P-1, none in P). Identities (tested):
-- active = new + returning + resurrecting; active_previous = returning + dormant.
with

buyers as (select customer_key, period_index from customer_periods where has_purchase),

cohorts as (select customer_key, cohort_index from cohort_membership),

current_period as (
    select
        b.period_index,
        sum(case when c.cohort_index = b.period_index then 1 else 0 end) as new,
        sum(case when prev.customer_key is not null then 1 else 0 end) as returning,
        sum(case when prev.customer_key is null and c.cohort_index < b.period_index then 1 else 0 end) as resurrecting,
        count(*) as active,
    from buyers as b
    join cohorts as c on c.customer_key = b.customer_key
    left join buyers as prev on prev.customer_key = b.customer_key and prev.period_index = b.period_index - 1
    group by b.period_index
),

dormant as (
    select prev.period_index + 1 as period_index, count(*) as dormant
    from buyers as prev
    left join buyers as cur on cur.customer_key = prev.customer_key and cur.period_index = prev.period_index + 1
    where cur.customer_key is null
    group by prev.period_index + 1
),

final as (
    select
        per.period,
        coalesce(c.new, 0) as new,
        coalesce(c.returning, 0) as returning,
        coalesce(c.resurrecting, 0) as resurrecting,
        coalesce(d.dormant, 0) as dormant,
        coalesce(c.active, 0) as active,
        coalesce(prev.active, 0) as active_previous,
        per.is_complete,
        per.period_index,
    from periods as per
    left join current_period as c on c.period_index = per.period_index
    left join current_period as prev on prev.period_index = per.period_index - 1
    left join dormant as d on d.period_index = per.period_index
)

select * from final
