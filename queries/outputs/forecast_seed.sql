-- Shape: crm forecast --method seed, forecast_seed.csv of crm run.
select period, kind, h, net_revenue, average_sales, growth_rate
from forecast_seed
order by kind, period
