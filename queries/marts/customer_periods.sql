-- Grain: one row per customer per period in which they have a transaction before as_of.
-- has_purchase: a purchase (amount > 0) in the period; net_revenue includes refunds.
with

final as (
    select
        customer_id,
        period_index,
        bool_or(is_purchase) as has_purchase,
        sum(amount) as net_revenue,
    from stg_transactions
    group by customer_id, period_index
)

select * from final
