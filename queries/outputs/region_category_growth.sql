-- Shape: crm affinity --table region_category_growth.
select period, country, region, category, net_revenue, net_revenue_before, growth_pct, region_share_pct
from region_category_growth
order by country, region, net_revenue desc, category
