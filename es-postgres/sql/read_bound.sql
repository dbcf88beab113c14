-- The transaction id below which rows of events are deliverable (see read_bound in
-- migration 1 and "Global order"): the rows are read by a later statement.
SELECT {schema}.read_bound()
