-- Grain: one row per customer with a purchase before as_of.
-- cohort_membership (cohort = the period of the first purchase, METRICS.md "Cohort retention")
-- with the customer's number of purchase orders.
with

membership as (select * from cohort_membership),

orders as (
    select customer_key, count(distinct order_key) as purchase_orders
    from stg_transactions
    where is_purchase
    group by customer_key
),

final as (
    select
        k.customer_id,
        m.customer_key,
        m.first_purchase_date,
        m.last_purchase_date,
        m.cohort_index,
        m.last_purchase_index,
        o.purchase_orders,
    from membership as m
    join orders as o on o.customer_key = m.customer_key
    join customer_keys as k on k.customer_key = m.customer_key
)

select * from final
