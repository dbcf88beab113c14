-- A page of streams with events after $1 ('' for the first), at most $2, each with its last
-- event: the first $2 stream ids after $1 in byte order. Which branch runs is decided once,
-- before either starts (a one-time filter):
-- - when the database's default collation is libc's C or POSIX, the collation of
--   events.stream_id sorts by bytes, and a walk of the UNIQUE (stream_id, stream_version)
--   index finds the page: one index seek per next stream id, one per last event;
-- - otherwise that index is in another order: the page's ids come from a scan of the whole
--   table, grouped and compared in the "C" collation (bytes), then one index seek per last
--   event.
-- The caller puts the rows in byte order of their ids.
WITH RECURSIVE byte_ordered (yes) AS (
    SELECT coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c'
           AND d.datcollate IN ('C', 'POSIX')
      FROM pg_database AS d
     WHERE d.datname = current_database()
),
page (stream_id, n) AS (
    SELECT (SELECT min(e.stream_id) FROM {schema}.events AS e WHERE e.stream_id > $1::text),
           1::bigint
     WHERE (SELECT yes FROM byte_ordered)
    UNION ALL
    SELECT (SELECT min(e.stream_id) FROM {schema}.events AS e
             WHERE e.stream_id > page.stream_id),
           page.n + 1
      FROM page
     WHERE page.stream_id IS NOT NULL AND page.n < $2::bigint
)
SELECT last.stream_id, last.stream_version, last.position, last.recorded_at
  FROM page
 CROSS JOIN LATERAL (SELECT e.stream_id, e.stream_version, e.position, e.recorded_at
                       FROM {schema}.events AS e
                      WHERE e.stream_id = page.stream_id
                      ORDER BY e.stream_version DESC
                      LIMIT 1) AS last
UNION ALL
SELECT last.stream_id, last.stream_version, last.position, last.recorded_at
  FROM (SELECT e.stream_id COLLATE "C" AS stream_id
          FROM {schema}.events AS e
         WHERE NOT (SELECT yes FROM byte_ordered) AND e.stream_id COLLATE "C" > $1::text
         GROUP BY 1
         ORDER BY 1
         LIMIT $2::bigint) AS page
 CROSS JOIN LATERAL (SELECT e.stream_id, e.stream_version, e.position, e.recorded_at
                       FROM {schema}.events AS e
                      WHERE e.stream_id = page.stream_id COLLATE "default"
                      ORDER BY e.stream_version DESC
                      LIMIT 1) AS last
