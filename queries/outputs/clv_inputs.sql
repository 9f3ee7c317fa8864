-- Shape: BG/NBD and Gamma-Gamma's input: the per-customer summary of marts/clv_summary.sql.
select customer_id, cast(frequency as double) as frequency, recency, t, monetary_value
from clv_summary
order by customer_id
