-- Grain: one row per known customer (in the customers export, or with a transaction).
-- Definition: METRICS.md "Growth accounting and lifecycle", status as of as_of, first match:
-- prospect (no purchase yet), new (first purchase within new_days), churned (no purchase within
-- active_days), at_risk (none for more than at_risk_days), active.
with

known as (
    select customer_key from stg_customers
    union
    select customer_key from stg_transactions
),

days as (
    select
        ids.customer_id,
        c.first_purchase_date,
        c.last_purchase_date,
        cast(param_as_of_date() as int) - cast(c.first_purchase_date as int) as days_since_first,
        cast(param_as_of_date() as int) - cast(c.last_purchase_date as int) as days_since_last,
        param_new_days() as new_days,
        param_at_risk_days() as at_risk_days,
        param_active_days() as active_days,
    from known as k
    join customer_keys as ids on ids.customer_key = k.customer_key
    left join cohort_membership as c on c.customer_key = k.customer_key
),

final as (
    select
        customer_id,
        case
            when first_purchase_date is null then 'prospect'
            when days_since_first <= new_days then 'new'
            when days_since_last > active_days then 'churned'
            when days_since_last > at_risk_days then 'at_risk'
            else 'active'
        end as status,
        first_purchase_date,
        last_purchase_date,
        days_since_first,
        days_since_last,
    from days
)

select * from final
