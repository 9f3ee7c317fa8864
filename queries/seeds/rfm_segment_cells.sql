-- Grain: one row per cell of the 5-bin R-F-M grid (125 rows): the segment and action of the
-- first rule, by priority, that the cell matches (METRICS.md "Named RFM segments"). The one
-- place the rules are matched: analysis/rfm.sql joins each customer's cell to it, and
-- analysis/rfm_grid.sql draws its M = 1 layer (M does not change the segment).
with

grid as (
    select column1 as v from (values (1), (2), (3), (4), (5))
),

matches as (
    select
        r.v as r_grid,
        f.v as f_grid,
        m.v as m_grid,
        rules.segment,
        rules.action,
        row_number() over (partition by r.v, f.v, m.v order by rules.priority) as match_order,
    from grid as r
    cross join grid as f
    cross join grid as m
    left join rfm_segment_rules as rules
        on r.v between rules.r_min and rules.r_max
        and f.v between rules.f_min and rules.f_max
        and m.v between rules.m_min and rules.m_max
),

final as (
    select r_grid, f_grid, m_grid, segment, action
    from matches
    where match_order = 1
)

select * from final
