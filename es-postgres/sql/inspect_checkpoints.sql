-- Every checkpoint, in byte order of its name (the "C" collation, whatever the database's).
SELECT projection, position FROM {schema}.checkpoints ORDER BY projection COLLATE "C"
