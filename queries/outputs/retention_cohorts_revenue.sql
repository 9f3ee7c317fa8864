-- Shape: crm retention --cohorts --revenue.
select cohort, age, cohort_size, net_revenue, revenue_retention
from retention_cohorts
order by cohort_index, age
