-- The transaction id below which rows of events are deliverable, as read_all computes it
-- (see read_bound in migration 1), as text: the rows are read by a later statement.
SELECT {schema}.read_bound()::text
