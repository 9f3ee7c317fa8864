-- Shape: the report's data-quality table: the checks a manager reads.
select table_name, check_name, value, detail
from data_quality
where check_name in ('rows_read', 'rows_loaded', 'rows_rejected', 'duplicates_skipped', 'orphan_rows',
                     'future_dated', 'malformed_emails', 'amount_outliers', 'rejected')
order by table_name, check_name, detail
