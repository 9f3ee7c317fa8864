-- Grain: one row per customer with a purchase in the RFM window before as_of.
-- Definition: METRICS.md "RFM": R in whole days from the last purchase day to as_of,
-- F = purchase orders in the window, M = net revenue in the window (refunds included), or
-- gross purchases, or net revenue per purchase order (rfm.monetary).
with

window_transactions as (
    select t.*
    from stg_transactions as t
    where t.local_at >= param_rfm_window_start()
),

-- Orders first, then customers: the distinct purchase orders per customer are the orders with
-- a purchase line. Written as two group-bys rather than count(distinct ...) beside other sums,
-- which DataFusion plans as a set of order keys per customer (4 GB at 10M lines, against 0.9 GB).
per_order as (
    select
        customer_key,
        order_key,
        max(case when is_purchase then local_date end) as last_purchase_date,
        bool_or(is_purchase) as has_purchase,
        sum(amount) as net_revenue,
        sum(case when is_purchase then amount else 0 end) as gross_revenue,
    from window_transactions
    group by customer_key, order_key
),

per_customer as (
    select
        customer_key,
        max(last_purchase_date) as last_purchase_date,
        count(case when has_purchase then 1 end) as purchase_orders,
        sum(net_revenue) as net_revenue,
        sum(gross_revenue) as gross_revenue,
    from per_order
    group by customer_key
),

final as (
    select
        k.customer_id,
        c.last_purchase_date,
        cast(cast(param_as_of_date() as int) - cast(c.last_purchase_date as int) as bigint) as recency_days,
        c.purchase_orders as frequency,
        round(
            case param_rfm_monetary()
                when 'gross' then c.gross_revenue
                when 'mean_order' then c.net_revenue / c.purchase_orders
                else c.net_revenue
            end,
            2
        ) as monetary,
        round(c.net_revenue, 2) as net_revenue,
    from per_customer as c
    join customer_keys as k on k.customer_key = c.customer_key
    where c.last_purchase_date is not null
)

select * from final
