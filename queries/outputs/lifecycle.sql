-- Shape: crm lifecycle --customers, lifecycle.csv of crm run.
select customer_id, status, first_purchase_date, last_purchase_date, days_since_last
from lifecycle
order by customer_id
