-- Grain: one row per customer with a purchase before as_of: the per-customer summary every
-- customer-base model takes. Definition: METRICS.md "Customer lifetime value": purchases on the
-- same day merge into one (amounts summed); frequency x = purchase days after the first;
-- recency t_x = days from the first to the last purchase day / 7; t = days from the first
-- purchase day to the last calibration day (as_of - 1) / 7; monetary_value = mean amount of the
-- repeat purchase days (empty when x = 0). Reproduces Fader, Hardie & Lee (2005)'s summary.
-- A purchase occasion here is any transaction that is not a refund (amount >= 0): CDNOW has
-- 0.00 transactions (free items), and the published summary counts them; with amount > 0 eight
-- of its 2,357 customers would be missing and others' frequencies would differ.
with

purchase_days as (
    select customer_id, local_date, sum(amount) as amount
    from stg_transactions
    where not is_refund
    group by customer_id, local_date
),

ranked as (
    select *, row_number() over (partition by customer_id order by local_date) as day_number
    from purchase_days
),

per_customer as (
    select
        customer_id,
        min(local_date) as first_purchase_date,
        max(local_date) as last_purchase_date,
        count(*) - 1 as frequency,
        avg(case when day_number > 1 then amount end) as monetary_value,
    from ranked
    group by customer_id
),

final as (
    select
        c.customer_id,
        c.frequency,
        (cast(c.last_purchase_date as int) - cast(c.first_purchase_date as int)) / 7.0 as recency,
        (cast(param_as_of_date() as int) - 1 - cast(c.first_purchase_date as int)) / 7.0 as t,
        c.monetary_value,
        c.first_purchase_date,
    from per_customer as c
)

select * from final
