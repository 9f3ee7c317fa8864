-- Grain: one row per customer per period in which they have a transaction before as_of.
-- has_purchase: a purchase (amount > 0) in the period; net_revenue includes refunds; the first
-- and last purchase day in the period. The one scan of the transactions that the cohort views
-- need: cohort_membership and periods are computed from this.
with

final as (
    select
        customer_key,
        period_index,
        bool_or(is_purchase) as has_purchase,
        sum(amount) as net_revenue,
        min(case when is_purchase then local_date end) as first_purchase_date,
        max(case when is_purchase then local_date end) as last_purchase_date,
    from stg_transactions
    group by customer_key, period_index
)

select * from final
