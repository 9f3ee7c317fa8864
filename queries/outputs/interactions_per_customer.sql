-- Shape: crm interactions --table interactions_per_customer.
select channel, interactions, customers, interactions_per_customer, per_known_customer
from interactions_per_customer
order by channel = 'all', channel
