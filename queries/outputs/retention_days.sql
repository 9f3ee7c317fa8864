-- Shape: `crm retention --cohorts --days 1,7,30` (METRICS.md "N-day retention"): one row per
-- cohort (the period of the customer's first purchase day) and day N of $1 (whole days,
-- comma-separated). eligible = the cohort's customers whose N-th day after their first purchase
-- day is before as_of; returned_on_day = those of them with a purchase on exactly that day
-- (day-N retention as product analytics counts it); returned_within = those with a purchase on
-- any of days 1..N (a second purchase within N days). Rates are percentages of eligible, empty
-- while nobody is eligible.
with

days as (
    select distinct cast(trim(d) as bigint) as day
    from unnest(string_to_array($1, ',')) as t(d)
),

purchase_days as (
    select distinct customer_key, arrow_cast(local_date, 'Int32') as day_number
    from stg_transactions
    where is_purchase
),

firsts as (
    select customer_key, min(day_number) as first_day
    from purchase_days
    group by customer_key
),

after_first as (
    select p.customer_key, p.day_number - f.first_day as after
    from purchase_days as p
    join firsts as f on f.customer_key = p.customer_key
    where p.day_number > f.first_day
),

hits as (
    select
        a.customer_key,
        d.day,
        max(case when a.after = d.day then 1 else 0 end) as on_day,
        max(case when a.after <= d.day then 1 else 0 end) as within,
    from after_first as a
    cross join days as d
    group by a.customer_key, d.day
),

per_customer_day as (
    select
        f.customer_key,
        period_index(arrow_cast(f.first_day, 'Date32'), param_period()) as cohort_index,
        d.day,
        f.first_day + d.day < arrow_cast(param_as_of_date(), 'Int32') as eligible,
        coalesce(h.on_day, 0) = 1 as on_day,
        coalesce(h.within, 0) = 1 as within,
    from firsts as f
    cross join days as d
    left join hits as h on h.customer_key = f.customer_key and h.day = d.day
),

final as (
    select
        period_label(cohort_index, param_period()) as cohort,
        day,
        count(*) as cohort_size,
        sum(case when eligible then 1 else 0 end) as eligible,
        sum(case when eligible and on_day then 1 else 0 end) as returned_on_day,
        sum(case when eligible and within then 1 else 0 end) as returned_within,
        case when sum(case when eligible then 1 else 0 end) > 0 then round(100.0
            * sum(case when eligible and on_day then 1 else 0 end)
            / sum(case when eligible then 1 else 0 end), 2) end as retention_on_day,
        case when sum(case when eligible then 1 else 0 end) > 0 then round(100.0
            * sum(case when eligible and within then 1 else 0 end)
            / sum(case when eligible then 1 else 0 end), 2) end as retention_within,
    from per_customer_day
    group by cohort_index, day
)

select * from final
order by cohort, day
