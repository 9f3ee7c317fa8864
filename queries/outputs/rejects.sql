-- Shape: rejects.csv of crm run. The report folder travels (mail, shared drives): its rejects say
-- where and why, never what. The raw records, personal fields and all, stay in the warehouse's
-- rejects table.
select "table", source_file, record_number, reason, kept
from rejects
order by "table", source_file, record_number
