-- Data test: returns a row when the invariant breaks. In every segmentation and dimension the
-- segments' customer shares sum to 100 (within the rounding of each share to 2 decimals) and
-- their customers to the same total as every other dimension of that segmentation.
with

segments as (select * from segments),

per_dimension as (
    select
        segmentation,
        dimension,
        sum(share_pct) as share_pct,
        count(*) as segments,
    from segments
    group by segmentation, dimension
),

final as (
    select *
    from per_dimension
    where abs(share_pct - 100) > 0.005 * segments + 1e-9
)

select * from final
