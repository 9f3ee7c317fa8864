-- Shape: crm retention --cohorts --mode on-or-after.
select cohort, age, cohort_size, active_on_or_after as active, retention_on_or_after as retention
from retention_cohorts
order by cohort_index, age
