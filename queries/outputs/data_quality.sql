-- Shape: crm quality, data_quality.csv of crm run, the warehouse's quality.csv.
select table_name, check_name, column_name, value, detail
from data_quality
order by table_name, check_name, column_name, detail
