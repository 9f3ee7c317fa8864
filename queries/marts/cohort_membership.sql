-- Grain: one row per customer with a purchase before as_of.
-- Cohort = the period of the first purchase (METRICS.md "Cohort retention"), and the span of
-- purchase days. Read from customer_periods (one row per customer and period) rather than from
-- the transactions again; minima and maxima only. Keyed by customer_key (customer_keys has the
-- id) so the cohort views never touch a string per customer.
with

purchase_periods as (select * from customer_periods where has_purchase),

final as (
    select
        customer_key,
        min(first_purchase_date) as first_purchase_date,
        max(last_purchase_date) as last_purchase_date,
        min(period_index) as cohort_index,
        max(period_index) as last_purchase_index,
    from purchase_periods
    group by customer_key
)

select * from final
