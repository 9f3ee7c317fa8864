-- Grain: one row per customer with a purchase before as_of.
-- Cohort = the period of the first purchase (METRICS.md "Cohort retention"), and the span of
-- purchase days. Minima and maxima only: the retention views read this on every run, and a
-- distinct count here would make the engine group every purchase by (customer, order).
with

purchases as (select * from stg_transactions where is_purchase),

final as (
    select
        customer_id,
        min(local_date) as first_purchase_date,
        max(local_date) as last_purchase_date,
        min(period_index) as cohort_index,
        max(period_index) as last_purchase_index,
    from purchases
    group by customer_id
)

select * from final
