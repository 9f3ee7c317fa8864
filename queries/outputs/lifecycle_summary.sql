-- Shape: crm lifecycle, lifecycle_summary.csv of crm run.
select status, customers, share_pct
from lifecycle_summary
order by status_order
