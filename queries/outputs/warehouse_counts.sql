-- Shape: summary.json's warehouse.rows.
select (select count(*) from customers) as customers,
       (select count(*) from transactions) as transactions,
       (select count(*) from interactions) as interactions,
       (select count(*) from rejects where not kept) as rejected_records
