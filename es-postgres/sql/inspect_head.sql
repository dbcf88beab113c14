-- The last position below the read bound $1 (read_bound.sql, computed by an earlier
-- statement, so these rows are read with a later snapshot, as read_all reads them): the last
-- event read_all can return now, 0 when there is none. A backward walk of the primary key
-- that passes over the rows of appends at or above the bound, if any.
SELECT coalesce((SELECT e.position
                   FROM {schema}.events AS e
                  WHERE e.transaction_id < $1::text::xid8
                  ORDER BY e.position DESC
                  LIMIT 1), 0)
