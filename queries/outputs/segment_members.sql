-- Shape: crm segment --export DIR: the members of every segment of one dimension ($1), no
-- personal fields.
select customer_id, dimension, segment
from (
    select customer_id, 'age_band' as dimension, age_band as segment from customer_profile
    union all select customer_id, 'gender', gender from customer_profile
    union all select customer_id, 'income_band', income_band from customer_profile
    union all select customer_id, 'country', country from customer_profile
    union all select customer_id, 'region', region from customer_profile
    union all select customer_id, 'city', city from customer_profile
    union all select customer_id, 'preferred_channel', preferred_channel from customer_profile
    union all select customer_id, 'preferred_category', preferred_category from customer_profile
    union all select customer_id, 'frequency_band', frequency_band from customer_profile
) as m
where dimension = $1
order by segment, customer_id
