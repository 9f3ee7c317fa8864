-- Shape: k-means' input: R, F and M of every customer scored by RFM (METRICS.md "RFM").
select customer_id, cast(recency_days as double) as recency, cast(frequency as double) as frequency,
       cast(monetary as double) as monetary
from customer_rfm_inputs
order by customer_id
