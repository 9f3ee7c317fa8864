-- Shape: rfm_segment_summary.csv of crm run; the report's segment chart and actions.
select * from rfm_segment_summary
order by customers desc, segment
