
-- Migration 1's append, less the notification (PgStore::append notifies after the commit,
-- outside the append's transaction, so that appends commit in parallel), with the command-id
-- lookup only when there is a command id, and a plain VALUES row for a single event.
CREATE OR REPLACE FUNCTION {schema}.append(
    p_stream_id text,
    p_expected bigint,
    p_command_id uuid,
    p_event_ids uuid[],
    p_names text[],
    p_schema_versions bigint[],
    p_payloads bytea[],
    p_metadata text[],
    OUT o_outcome text,
    OUT o_stream_version bigint,
    OUT o_first_position bigint,
    OUT o_last_position bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    n integer := cardinality(p_event_ids);
    actual bigint;
BEGIN
    IF p_command_id IS NULL THEN
        SELECT coalesce(max(e.stream_version), 0) INTO actual
          FROM {schema}.events e WHERE e.stream_id = p_stream_id;
    ELSE
        -- One statement, so one snapshot: the idempotency check and the version agree.
        SELECT coalesce((SELECT max(e.stream_version) FROM {schema}.events e
                          WHERE e.stream_id = p_stream_id), 0),
               earlier.v, earlier.f, earlier.l
          INTO actual, o_stream_version, o_first_position, o_last_position
          FROM (SELECT max(e.stream_version) AS v, min(e.position) AS f, max(e.position) AS l
                  FROM {schema}.events e
                 WHERE e.stream_id = p_stream_id AND e.command_id = p_command_id) AS earlier;
        IF o_stream_version IS NOT NULL THEN
            o_outcome := 'duplicate';
            RETURN;
        END IF;
    END IF;
    IF p_expected >= 0 AND p_expected <> actual THEN
        o_outcome := 'conflict';
        o_stream_version := actual;
        RETURN;
    END IF;
    o_first_position := {schema}.allocate(n);
    IF n = 1 THEN
        INSERT INTO {schema}.events (position, stream_id, stream_version, event_id, name,
                                     schema_version, payload, metadata, command_id,
                                     transaction_id)
        VALUES (o_first_position, p_stream_id, actual + 1, p_event_ids[1], p_names[1],
                p_schema_versions[1], p_payloads[1], p_metadata[1]::json, p_command_id,
                pg_current_xact_id());
    ELSE
        INSERT INTO {schema}.events (position, stream_id, stream_version, event_id, name,
                                     schema_version, payload, metadata, command_id,
                                     transaction_id)
        SELECT o_first_position + e.ord - 1, p_stream_id, actual + e.ord, e.event_id, e.name,
               e.schema_version, e.payload, e.metadata::json, p_command_id, pg_current_xact_id()
          FROM unnest(p_event_ids, p_names, p_schema_versions, p_payloads, p_metadata)
               WITH ORDINALITY AS e(event_id, name, schema_version, payload, metadata, ord);
    END IF;
    o_outcome := 'appended';
    o_stream_version := actual + n;
    o_last_position := o_first_position + n - 1;
END
$fn$;
