-- Grain: one row per customer with a purchase in the RFM window before as_of.
-- Definition: METRICS.md "RFM" and "Named RFM segments".
-- score = 1 + floor(B * (RANK() - 1) / n); F and M rank ascending, R descending (the most
-- recent customer gets B); ties share a score. Segments: first matching rule by priority.
with

inputs as (select * from customer_rfm_inputs),

ranked as (
    select
        i.*,
        rank() over (order by i.recency_days desc) as r_rank,
        rank() over (order by i.frequency asc) as f_rank,
        rank() over (order by i.monetary asc) as m_rank,
        count(*) over () as scored_customers,
    from inputs as i
),

scored as (
    select
        r.*,
        1 + cast(floor(cast(param_rfm_bins() * (r.r_rank - 1) as double) / r.scored_customers) as bigint) as r_score,
        1 + cast(floor(cast(param_rfm_bins() * (r.f_rank - 1) as double) / r.scored_customers) as bigint) as f_score,
        1 + cast(floor(cast(param_rfm_bins() * (r.m_rank - 1) as double) / r.scored_customers) as bigint) as m_score,
        param_rfm_bins() as rfm_bins,
    from ranked as r
),

-- The segment rules are written on the 5-bin grid; other bin counts map onto it.
on_grid as (
    select
        s.*,
        cast(ceil(s.r_score * 5.0 / s.rfm_bins) as bigint) as r_grid,
        cast(ceil(s.f_score * 5.0 / s.rfm_bins) as bigint) as f_grid,
        cast(ceil(s.m_score * 5.0 / s.rfm_bins) as bigint) as m_grid,
    from scored as s
),

-- Each customer is matched to a segment by an equality join on its cell of the 5-bin grid
-- (seeds/rfm_segment_cells.sql): matching every customer against every rule and keeping the
-- first per customer sorted a million customer ids.
cells as (select * from rfm_segment_cells),

matched as (
    select
        g.*,
        c.segment,
        c.action,
    from on_grid as g
    left join cells as c
        on c.r_grid = g.r_grid
        and c.f_grid = g.f_grid
        and c.m_grid = g.m_grid
),

final as (
    select
        customer_id,
        recency_days,
        frequency,
        monetary,
        r_score,
        f_score,
        m_score,
        concat(cast(r_score as varchar), cast(f_score as varchar), cast(m_score as varchar)) as rfm_cell,
        segment,
        r_score + f_score + m_score as rfm_score,
        action,
        last_purchase_date,
    from matched
)

select * from final
