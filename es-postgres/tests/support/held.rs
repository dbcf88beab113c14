//! Helpers of the tests that hold appends open by hand: they call the store's own
//! `{schema}.append_one` function (one event) or `{schema}.append` function (any other batch)
//! in a transaction of the test's, exactly as `PgStore::append` does in its own.

use es_core::{NewEvent, RecordedEvent, StoreError, Subscription};
use es_postgres::sqlx::{self, PgConnection, PgPool, Row};
use es_postgres::{PgStore, testing};
use uuid::Uuid;

use super::WITHIN;

/// A pool and a fresh store on the shared test server, or `None` (after the harness's
/// one-line notice counting `tests` skipped tests) without PostgreSQL.
pub(crate) async fn setup(tests: usize) -> Option<(PgPool, PgStore)> {
    let database = testing::database_or_skip(tests)?;
    let pool = database.pool().await.expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    Some((pool, store))
}

/// Drops the store's schema (it matters on a `DATABASE_URL` server; a failing test leaves
/// its schema behind to look at).
pub(crate) async fn teardown(store: &PgStore) {
    testing::drop_schema(store).await.expect("drop schema");
}

/// What the append function answered: outcome (`append`'s names: `"appended"`,
/// `"duplicate"`, `"conflict"`), stream version, first and last position.
pub(crate) type Answer = (String, i64, Option<i64>, Option<i64>);

/// Runs the store's append function on `conn` (a transaction the caller keeps open), as
/// `PgStore::append` does: `append_one` for one event, `append` otherwise. `expected` is -1
/// for any version, otherwise the exact version (0: no stream).
pub(crate) async fn append_in(
    conn: &mut PgConnection,
    store: &PgStore,
    stream_id: &str,
    expected: i64,
    events: &[NewEvent],
) -> Result<Answer, sqlx::Error> {
    match events {
        [event] => append_one_in(conn, store, stream_id, expected, event).await,
        events => append_batch_in(conn, store, stream_id, expected, events).await,
    }
}

/// Runs the store's `append_one` function on `conn`, its array answer in `append`'s terms.
pub(crate) async fn append_one_in(
    conn: &mut PgConnection,
    store: &PgStore,
    stream_id: &str,
    expected: i64,
    event: &NewEvent,
) -> Result<Answer, sqlx::Error> {
    let sql = format!(
        "SELECT {}.append_one($1, $2, $3, $4, $5, $6, $7, $8)",
        store.schema()
    );
    let metadata = serde_json::to_string(&event.metadata).expect("metadata encodes");
    let answer: Vec<Option<i64>> = sqlx::query_scalar(&sql)
        .bind(stream_id)
        .bind(expected)
        .bind(event.metadata.command_id)
        .bind(event.event_id.0)
        .bind(&*event.name)
        .bind(i64::from(event.schema_version))
        .bind(&event.payload[..])
        .bind(metadata)
        .fetch_one(&mut *conn)
        .await?;
    let [Some(outcome), Some(version), first, last] = answer[..] else {
        panic!("append_one answered {answer:?}");
    };
    let outcome = match outcome {
        1 => "appended",
        2 => "duplicate",
        3 => "conflict",
        other => panic!("append_one answered the outcome {other}"),
    };
    Ok((outcome.to_owned(), version, first, last))
}

/// Runs the store's `append` function (the arrays) on `conn`, whatever the batch's size.
pub(crate) async fn append_batch_in(
    conn: &mut PgConnection,
    store: &PgStore,
    stream_id: &str,
    expected: i64,
    events: &[NewEvent],
) -> Result<Answer, sqlx::Error> {
    let sql = format!(
        "SELECT o_outcome, o_stream_version, o_first_position, o_last_position \
         FROM {}.append($1, $2, $3, $4, $5, $6, $7, $8)",
        store.schema()
    );
    let command_id = events.first().and_then(|event| event.metadata.command_id);
    let ids: Vec<Uuid> = events.iter().map(|event| event.event_id.0).collect();
    let names: Vec<&str> = events.iter().map(|event| &*event.name).collect();
    let versions: Vec<i64> = events
        .iter()
        .map(|event| i64::from(event.schema_version))
        .collect();
    let payloads: Vec<&[u8]> = events.iter().map(|event| &event.payload[..]).collect();
    let metadata: Vec<String> = events
        .iter()
        .map(|event| serde_json::to_string(&event.metadata).expect("metadata encodes"))
        .collect();
    let row = sqlx::query(&sql)
        .bind(stream_id)
        .bind(expected)
        .bind(command_id)
        .bind(ids)
        .bind(names)
        .bind(versions)
        .bind(payloads)
        .bind(metadata)
        .fetch_one(&mut *conn)
        .await?;
    Ok((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    ))
}

/// The subscription's next event, within [`WITHIN`].
pub(crate) async fn next_within(
    subscription: &mut Subscription<PgStore>,
) -> Result<RecordedEvent, StoreError> {
    tokio::time::timeout(WITHIN, subscription.next())
        .await
        .expect("the subscriber to deliver within 10 s")
}
