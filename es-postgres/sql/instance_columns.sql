key, state, finished, revision, parked_error, parked_inputs, parked_since, parked_retry
