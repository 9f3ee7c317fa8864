-- Shape: the report's R x F grid: customers per cell and the cell's segment.
select r, f, segment, n from rfm_grid
