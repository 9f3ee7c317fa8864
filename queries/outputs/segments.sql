-- Shape: segments.csv of crm run: every segmentation.
select segmentation, dimension, segment, customers, share_pct, net_revenue, revenue_share_pct, avg_order_value,
       purchases_per_customer, strict_retention_pct
from segments
order by segmentation, dimension, customers desc, segment
