-- Shape: the report's resolution-time histogram: one row per ticket resolved before as_of.
select resolution_hours
from tickets
where resolution_hours is not null
