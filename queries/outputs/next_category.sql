-- Shape: crm affinity --table next_category.
select customer_id, next_category, because_of, lift, confidence, support
from next_category
order by customer_id
