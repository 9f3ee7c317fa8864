-- Shape: the default as_of: the latest transaction on the report's wall clock (read when the manifest
-- does not record it).
select max(to_report_time(ts)) as last_ts from transactions
