-- Grain: one row per customer (the latest export of each id). Personal fields are left out:
-- reports and target lists never need them.
with

customers as (select * from customers),

final as (
    select
        c.customer_id,
        c.customer_key,
        c.signup_date,
        c.country,
        c.region,
        c.city,
        c.birth_date,
        c.age,
        c.gender,
        c.income_band,
        c.acquisition_channel,
        c.loyalty_member,
        c.loyalty_tier,
        c.attributes,
    from customers as c
)

select * from final
