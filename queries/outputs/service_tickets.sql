-- Shape: crm service --table service_tickets.
select period, tickets, resolved, median_resolution_hours, p90_resolution_hours, tickets_per_100_customers
from service_tickets
where is_complete
order by period_index
