-- Grain: one row per customer with a purchase before as_of: the attributes every segmentation
-- groups by, and the figures every segment row adds up.
with

cohorts as (select * from customer_cohorts),

revenue as (
    select customer_id, sum(amount) as net_revenue
    from stg_transactions
    group by customer_id
),

channel_counts as (
    select customer_id, coalesce(channel, 'unknown') as channel, count(*) as n
    from stg_transactions
    where is_purchase
    group by customer_id, coalesce(channel, 'unknown')
),

preferred_channel as (
    select customer_id, channel
    from (
        select customer_id, channel, row_number() over (partition by customer_id order by n desc, channel) as k
        from channel_counts
    ) as ranked
    where k = 1
),

category_counts as (
    select customer_id, coalesce(product_category, 'unknown') as category, count(*) as n
    from stg_transactions
    where is_purchase
    group by customer_id, coalesce(product_category, 'unknown')
),

preferred_category as (
    select customer_id, category
    from (
        select customer_id, category, row_number() over (partition by customer_id order by n desc, category) as k
        from category_counts
    ) as ranked
    where k = 1
),

last_period as (
    select max(period_index) as period_index from periods where is_complete
),

active_flags as (
    select
        k.customer_id,
        bool_or(a.period_index = lp.period_index - 1) as active_previous,
        bool_or(a.period_index = lp.period_index) as active_last,
    from customer_active_periods as a
    join customer_keys as k on k.customer_key = a.customer_key
    cross join last_period as lp
    group by k.customer_id
),

ages as (
    select
        c.customer_id,
        coalesce(
            s.age,
            cast(date_part('year', param_as_of_date()) - date_part('year', s.birth_date) as bigint)
            - case
                when date_part('month', param_as_of_date()) * 100 + date_part('day', param_as_of_date())
                    < date_part('month', s.birth_date) * 100 + date_part('day', s.birth_date) then 1
                else 0
            end
        ) as age,
    from cohorts as c
    left join stg_customers as s on s.customer_id = c.customer_id
),

final as (
    select
        c.customer_id,
        case
            when a.age is null then 'unknown'
            when a.age < 18 then 'under 18'
            when a.age < 25 then '18-24'
            when a.age < 35 then '25-34'
            when a.age < 45 then '35-44'
            when a.age < 55 then '45-54'
            when a.age < 65 then '55-64'
            else '65+'
        end as age_band,
        coalesce(nullif(s.gender, ''), 'unknown') as gender,
        coalesce(nullif(s.income_band, ''), 'unknown') as income_band,
        coalesce(nullif(s.country, ''), 'unknown') as country,
        coalesce(nullif(s.region, ''), 'unknown') as region,
        coalesce(nullif(s.city, ''), 'unknown') as city,
        coalesce(pc.channel, 'unknown') as preferred_channel,
        coalesce(pcat.category, 'unknown') as preferred_category,
        case
            when c.purchase_orders = 1 then '1 order'
            when c.purchase_orders <= 3 then '2-3 orders'
            when c.purchase_orders <= 9 then '4-9 orders'
            else '10+ orders'
        end as frequency_band,
        coalesce(r.segment, 'unscored') as rfm_segment,
        c.purchase_orders,
        coalesce(rev.net_revenue, 0) as net_revenue,
        coalesce(f.active_previous, false) as active_previous,
        coalesce(f.active_last, false) as active_last,
    from cohorts as c
    left join ages as a on a.customer_id = c.customer_id
    left join stg_customers as s on s.customer_id = c.customer_id
    left join preferred_channel as pc on pc.customer_id = c.customer_id
    left join preferred_category as pcat on pcat.customer_id = c.customer_id
    left join rfm as r on r.customer_id = c.customer_id
    left join revenue as rev on rev.customer_id = c.customer_id
    left join active_flags as f on f.customer_id = c.customer_id
)

select * from final
