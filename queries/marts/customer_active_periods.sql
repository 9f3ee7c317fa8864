-- Grain: one row per customer per period in which they are active: a purchase in the period or
-- in the active_periods - 1 periods before it (METRICS.md "Retention rate").
with

purchase_periods as (select customer_key, period_index from customer_periods where has_purchase),

final as (
    select distinct
        pp.customer_key,
        per.period_index,
    from purchase_periods as pp
    join periods as per
        on per.period_index >= pp.period_index
        and per.period_index < pp.period_index + param_active_periods()
)

select * from final
