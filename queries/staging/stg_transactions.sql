-- Grain: one row per transaction strictly before as_of (METRICS.md "Time and money").
-- Rename and cast only: local time in the report's zone, purchase/refund flags. customer_key and
-- order_key are the integer surrogate keys assigned at ingest (src/ingest/keys.rs): the views
-- group and join on them and look customer_id up only for the rows they return.
-- Every transaction passes through here: parameters are the param_*() constants, not a join
-- with the params table, so the planner filters and computes against literals.
with

transactions as (select * from transactions),

final as (
    select
        t.transaction_id,
        t.customer_id,
        t.customer_key,
        t.ts as ts_at,
        to_report_time(t.ts) as local_at,
        to_report_date(t.ts) as local_date,
        period_index(to_report_date(t.ts), param_period()) as period_index,
        t.amount,
        t.amount > 0 as is_purchase,
        t.amount < 0 as is_refund,
        -- An order is a distinct order_id, or the transaction itself where order_id is empty:
        -- order_key is a hash of the one or the other, distinct within a customer.
        t.order_key,
        t.currency,
        t.quantity,
        t.product_id,
        t.product_category,
        t.channel,
        t.store_id,
    from transactions as t
    where to_report_time(t.ts) < param_as_of()
)

select * from final
