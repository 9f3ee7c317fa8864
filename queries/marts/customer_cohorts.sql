-- Grain: one row per customer with a purchase before as_of.
-- cohort_membership (cohort = the period of the first purchase, METRICS.md "Cohort retention")
-- with the customer's number of purchase orders.
with

membership as (select * from cohort_membership),

orders as (
    select customer_id, count(distinct order_key) as purchase_orders
    from stg_transactions
    where is_purchase
    group by customer_id
),

final as (
    select
        m.customer_id,
        m.first_purchase_date,
        m.last_purchase_date,
        m.cohort_index,
        m.last_purchase_index,
        o.purchase_orders,
    from membership as m
    join orders as o on o.customer_id = m.customer_id
)

select * from final
