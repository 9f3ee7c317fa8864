-- Shape: crm rfm --export DIR: segment, action and member, in the order of the segment rules.
select r.segment, r.action, r.customer_id
from rfm as r
join rfm_segment_rules as s on s.segment = r.segment
order by s.priority, r.customer_id
