-- What a command id produced on a stream: the append that carried it (es_commands, outcome 0),
-- or else its refusal (es_refusals, outcome 1). A command id has one outcome per stream.
SELECT 0 AS outcome, stream_version, first_position, last_position, NULL AS payload
  FROM es_commands
 WHERE stream_id = ?1 AND command_id = ?2
UNION ALL
SELECT 1, stream_version, NULL, NULL, payload
  FROM es_refusals
 WHERE stream_id = ?1 AND command_id = ?2
 ORDER BY outcome
 LIMIT 1
