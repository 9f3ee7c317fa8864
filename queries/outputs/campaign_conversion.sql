-- Shape: crm interactions --table campaign_conversion; the report's conversion chart (per
-- campaign) and table (the 'all' row).
select campaign_id, first_sent_date, sent, opened, clicked, converted, open_rate_pct, click_rate_pct,
       conversion_rate_pct, revenue
from campaign_conversion
order by campaign_id = 'all', first_sent_date, campaign_id
