-- Data test: returns a row when growth accounting does not add up in a period (METRICS.md
-- "Growth accounting and lifecycle"): active = new + returning + resurrecting, and the
-- previous period's active customers either return or go dormant.
with

growth as (select * from growth_accounting),

final as (
    select period, new, "returning", resurrecting, dormant, active, active_previous
    from growth
    where active <> new + "returning" + resurrecting
        or active_previous <> "returning" + dormant
)

select * from final
