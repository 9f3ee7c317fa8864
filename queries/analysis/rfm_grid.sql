-- Grain: one row per cell of the 5 x 5 R-F grid: its named segment (METRICS.md "Named RFM
-- segments": the first rule by priority that the cell matches; M does not change the segment,
-- so any M in the rule's range) and the customers scored into it (0 for an empty cell). The
-- report's RF-grid chart draws it when rfm.bins = 5.
with

scores as (select * from unnest([1, 2, 3, 4, 5]) as t (v)),

rules as (select * from rfm_segment_rules),

scored as (select * from rfm),

cells as (
    select r.v as r, f.v as f
    from scores as r
    cross join scores as f
),

matched as (
    select
        c.r,
        c.f,
        s.segment,
        row_number() over (partition by c.r, c.f order by s.priority) as k,
    from cells as c
    join rules as s
        on c.r between s.r_min and s.r_max
        and c.f between s.f_min and s.f_max
        and 1 between s.m_min and s.m_max
),

counts as (
    select r_score as r, f_score as f, count(*) as n
    from scored
    group by r_score, f_score
),

final as (
    select
        m.r,
        m.f,
        m.segment,
        coalesce(counts.n, 0) as n,
    from matched as m
    left join counts on counts.r = m.r and counts.f = m.f
    where m.k = 1
)

select * from final
