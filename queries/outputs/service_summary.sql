-- Shape: crm service --table service_summary; the report's service table.
select tickets, open_backlog, median_resolution_hours, p90_resolution_hours, tickets_per_100_customers,
       repeat_contact_customers
from service_summary
