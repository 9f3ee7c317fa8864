-- Shape: crm lifecycle --churn, churn.csv of crm run.
select period, active_at_start, churned, churn_rate
from churn
order by period_index
