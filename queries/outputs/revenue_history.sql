-- Shape: the forecasts' input: net revenue of every complete period.
select period_index, period, net_revenue
from revenue_history
order by period_index
