-- Shape: crm service --table satisfaction_by_segment.
select segment, csat_responses, csat_mean, csat_satisfied_pct, nps_responses, nps
from satisfaction_by_segment
order by segment
