-- Grain: one row per cell of the 5 x 5 R-F grid: its named segment (seeds/rfm_segment_cells.sql,
-- at M = 1: M does not change the segment) and the customers scored into it (0 for an empty
-- cell). The report's RF-grid chart draws it when rfm.bins = 5.
with

cells as (select * from rfm_segment_cells),

scored as (select * from rfm),

counts as (
    select r_score as r, f_score as f, count(*) as n
    from scored
    group by r_score, f_score
),

final as (
    select
        c.r_grid as r,
        c.f_grid as f,
        c.segment,
        coalesce(counts.n, 0) as n,
    from cells as c
    left join counts on counts.r = c.r_grid and counts.f = c.f_grid
    where c.m_grid = 1
)

select * from final
