-- A slower writer never replaces a newer snapshot.
INSERT INTO es_snapshots (stream_id, version, schema_version, payload, taken_at)
VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (stream_id) DO UPDATE
   SET version = excluded.version, schema_version = excluded.schema_version,
       payload = excluded.payload, taken_at = excluded.taken_at
 WHERE es_snapshots.version <= excluded.version
