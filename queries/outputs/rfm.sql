-- Shape: crm rfm --format csv, and rfm.csv of crm run. One row per customer scored.
select customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, rfm_cell, segment
from rfm
order by customer_id
