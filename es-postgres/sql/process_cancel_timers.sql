DELETE FROM {schema}.process_timers AS t
 USING unnest($2::text[], $3::text[]) AS u(key, name)
 WHERE t.process = $1 AND t.key = u.key AND t.name = u.name
