INSERT INTO es_checkpoints (projection, position, updated_at) VALUES (?1, ?2, ?3)
    ON CONFLICT (projection) DO UPDATE
   SET position = excluded.position, updated_at = excluded.updated_at
