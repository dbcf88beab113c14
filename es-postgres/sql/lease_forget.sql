-- Forgets consumer $1's leases, workers and partition count (see migration 6).
SELECT {schema}.lease_forget($1)
