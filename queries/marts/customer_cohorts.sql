-- Grain: one row per customer with a purchase before as_of.
-- Cohort = the period of the first purchase (METRICS.md "Cohort retention").
with

purchases as (select * from stg_transactions where is_purchase),

final as (
    select
        customer_id,
        min(local_date) as first_purchase_date,
        max(local_date) as last_purchase_date,
        min(period_index) as cohort_index,
        max(period_index) as last_purchase_index,
        count(distinct order_key) as purchase_orders,
    from purchases
    group by customer_id
)

select * from final
