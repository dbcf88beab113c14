-- Gives up every lease of worker $2 of consumer $1 and forgets the worker (see migration 6).
SELECT {schema}.lease_release($1, $2)
