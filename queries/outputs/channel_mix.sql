-- Shape: crm interactions --table channel_mix; the report's channel chart.
select period, channel, interactions, customers, share_pct
from channel_mix
where is_complete
order by period_index, channel
