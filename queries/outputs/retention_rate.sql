-- Shape: crm retention --format csv (a stable shape for scripts), retention_rate.csv of crm run.
select period, "S", "E", "N", retained, reactivated, retention_rate, strict_retention_rate
from retention_rate
where is_complete
order by period_index
