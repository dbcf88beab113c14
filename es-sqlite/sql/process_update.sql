-- An instance written at the next revision (the writer checked the one it was read at).
UPDATE es_process_instances
   SET state = ?3, finished = ?4, revision = revision + 1, parked_error = ?5,
       parked_inputs = ?6, parked_since = ?7, parked_retry = ?8, updated_at = ?9
 WHERE process = ?1 AND key = ?2
