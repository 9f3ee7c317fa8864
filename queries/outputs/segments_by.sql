-- Shape: crm segment --by $1: one segmentation (rfm, demographic, geographic, behavioural).
select dimension, segment, customers, share_pct, net_revenue, revenue_share_pct, avg_order_value,
       purchases_per_customer, strict_retention_pct
from segments
where segmentation = $1
order by dimension, customers desc, segment
