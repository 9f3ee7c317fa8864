-- Shape: crm retention --cohorts (active in the period at that age); the report's heatmap.
select cohort, age, cohort_size, active, retention
from retention_cohorts
order by cohort_index, age
