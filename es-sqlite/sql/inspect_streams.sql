-- A page of streams with events after ?1 ('' for the first), at most ?2, in byte order of
-- their ids (SQLite compares text with memcmp), each with its last event. Index seeks only,
-- on UNIQUE (stream_id, stream_version): one for each next stream id, one for its last event.
WITH RECURSIVE page (stream_id, n) AS (
    SELECT (SELECT min(stream_id) FROM es_events WHERE stream_id > ?1), 1
    UNION ALL
    SELECT (SELECT min(next.stream_id) FROM es_events AS next
             WHERE next.stream_id > page.stream_id), page.n + 1
      FROM page
     WHERE page.stream_id IS NOT NULL AND page.n < ?2
)
SELECT last.stream_id, last.stream_version, last.position, last.recorded_at
  FROM page
  JOIN es_events AS last
    ON last.stream_id = page.stream_id
   AND last.stream_version = (SELECT max(newest.stream_version) FROM es_events AS newest
                               WHERE newest.stream_id = page.stream_id)
 ORDER BY page.n
