-- Shape: retention_cohorts.csv of crm run: every measure of every cohort cell.
select cohort, age, cohort_size, active, retention, active_on_or_after, retention_on_or_after, net_revenue,
       revenue_retention
from retention_cohorts
order by cohort_index, age
