-- A new instance, at revision 1.
INSERT INTO es_process_instances
       (process, key, state, finished, revision,
        parked_error, parked_inputs, parked_since, parked_retry, updated_at)
VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?9)
