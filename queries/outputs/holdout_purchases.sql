-- Shape: the CLV holdout check: distinct purchase days per customer from $1 (the end of the
-- calibration period) to as_of.
select customer_id, cast(count(distinct local_date) as double) as n
from stg_transactions
where not is_refund and local_date >= $1
group by customer_id
