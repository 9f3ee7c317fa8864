-- Data test: returns a row when the lifecycle summary does not count every customer of the
-- lifecycle table exactly once, or its shares do not sum to 100.
with

customers as (select count(*) as n, count(distinct customer_id) as ids from lifecycle),

summary as (select sum(customers) as n, sum(share_pct) as share_pct from lifecycle_summary),

final as (
    select c.n as customers, c.ids, s.n as counted, s.share_pct
    from customers as c
    cross join summary as s
    where c.n <> c.ids or c.n <> s.n or abs(s.share_pct - 100) > 0.03
)

select * from final
