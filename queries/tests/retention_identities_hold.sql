-- Data test: returns a row when an identity of METRICS.md "Retention rate" breaks in a
-- period: E = N + retained + reactivated, retained <= S, and the seed rate (E - N) / S * 100.
with

rates as (select * from retention_rate),

final as (
    select period, "S", "E", "N", retained, reactivated, retention_rate
    from rates
    where "E" <> "N" + retained + reactivated
        or retained > "S"
        or ("S" > 0 and abs(retention_rate - round(100.0 * ("E" - "N") / "S", 2)) > 1e-9)
        or ("S" = 0 and retention_rate is not null)
)

select * from final
