-- Shape: crm service --table satisfaction; the report's NPS and CSAT chart.
select period, csat_responses, csat_mean, csat_satisfied_pct, nps_responses, promoters_pct, detractors_pct, nps
from satisfaction
where is_complete
order by period_index
