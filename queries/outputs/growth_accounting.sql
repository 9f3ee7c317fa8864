-- Shape: crm retention --growth, growth_accounting.csv of crm run.
select period, new, "returning", resurrecting, dormant, active, active_previous
from growth_accounting
where is_complete
order by period_index
