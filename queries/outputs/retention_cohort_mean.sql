-- Shape: crm retention --mean, retention_cohort_mean.csv of crm run.
select age, cohorts, customers, retention, retention_on_or_after
from retention_cohort_mean
order by age
