-- One heartbeat of a partitioned consumer's worker (see migration 6): ($1, $2, $3, $4) the
-- consumer, the worker, the partition count and the lease in microseconds.
SELECT o_count, o_held FROM {schema}.lease_heartbeat($1, $2, $3, $4)
