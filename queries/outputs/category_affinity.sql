-- Shape: crm affinity --table category_affinity.
select category_a, category_b, both_customers, customers_a, customers_b, support, confidence, lift
from category_affinity
order by lift desc, category_a, category_b
