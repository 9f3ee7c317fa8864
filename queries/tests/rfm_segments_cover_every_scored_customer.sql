-- Data test: returns a row when the invariant breaks. Every customer the RFM scores is in
-- exactly one named segment: the segment summary's customers add up to the scored customers,
-- and its shares to 100 (METRICS.md "Named RFM segments").
with

scored as (select count(*) as customers from rfm),

summary as (
    select sum(customers) as customers, sum(share_pct) as share_pct, count(*) as segments
    from rfm_segment_summary
),

final as (
    select s.customers as scored, m.customers as in_segments, m.share_pct
    from scored as s
    cross join summary as m
    -- Each share is rounded to 2 decimals: their sum is within 0.005 a segment of 100.
    where s.customers <> m.customers or abs(m.share_pct - 100) > 0.005 * m.segments + 1e-9
)

select * from final
