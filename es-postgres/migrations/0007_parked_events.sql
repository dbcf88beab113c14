-- Parked events (es-core's CheckpointStore::park_events): events a consumer set aside, by the
-- consumer's checkpoint name (a projection's, or one of its partitions', '<name>#...') and
-- the event's position. A table projection writes them in the transaction that moves its
-- checkpoint.
CREATE TABLE {schema}.parked_events (
    consumer  text        NOT NULL,
    position  bigint      NOT NULL CHECK (position >= 0),
    stream_id text        NOT NULL,
    name      text        NOT NULL,
    -- The failure's message, or, for an event waiting behind an earlier parked event of its
    -- stream, which.
    error     text        NOT NULL,
    -- Whether the event failed itself (false: it waits behind an earlier one).
    failed    boolean     NOT NULL,
    parked_at timestamptz NOT NULL,
    PRIMARY KEY (consumer, position)
);
