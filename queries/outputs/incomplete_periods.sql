-- Shape: the note a period command prints about the period left out as incomplete.
select cast(period as varchar) as period from periods where not is_complete
