SELECT e.v, e.f, e.l, r.stream_version, r.payload
  FROM (SELECT max(stream_version) AS v, min(position) AS f, max(position) AS l
          FROM {schema}.events
         WHERE stream_id = $1 AND command_id = $2) AS e
  LEFT JOIN {schema}.refusals r ON r.stream_id = $1 AND r.command_id = $2
