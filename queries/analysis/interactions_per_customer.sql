-- Grain: one row per interaction channel, and one for all channels ('all').
-- interactions_per_customer = interactions / customers with at least one on that channel;
-- per_known_customer divides by every known customer (the customers export).
with

known as (select count(*) as customers from stg_customers),

by_channel as (
    select channel, count(*) as interactions, count(distinct customer_id) as customers
    from stg_interactions
    group by channel
    union all
    select 'all', count(*), count(distinct customer_id)
    from stg_interactions
),

final as (
    select
        b.channel,
        b.interactions,
        b.customers,
        round(1.0 * b.interactions / nullif(b.customers, 0), 2) as interactions_per_customer,
        round(1.0 * b.interactions / nullif(k.customers, 0), 2) as per_known_customer,
    from by_channel as b
    cross join known as k
)

select * from final
