-- Timers that fired; one another runner fired first is gone (the caller compares the count).
DELETE FROM {schema}.process_timers WHERE process = $1 AND id = ANY($2)
