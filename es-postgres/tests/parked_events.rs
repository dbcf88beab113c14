//! Parked events of a table projection: kept and forgotten in the transaction of the commit
//! that moves its checkpoint, so a commit that does not move it (another runner moved it
//! first) or fails keeps none, and a rebuild forgets them with the checkpoints. A parked
//! event stored with a value no park writes reads as `StoreError::Corrupt`, naming its row.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::time::{Duration, SystemTime};

use es_core::StoreError;
use es_core::prelude::*;
use es_core::projection::{Advance, Committed, ParkedEvent, Partition, Target};
use es_postgres::sqlx::{self, PgConnection};
use es_postgres::{PgProjection, PgTables, testing};
use serde::{Deserialize, Serialize};

mod support;
use support::stream;

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 2;

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "test.happened")]
struct Happened {
    n: i64,
}

/// A change set that writes nothing, or fails its write when `fail` is set.
#[derive(Projection, Default, Debug)]
#[projection(name = "parking", events(Happened))]
struct Parking {
    fail: bool,
}

impl On<Happened> for Parking {
    fn on(&mut self, _: &Happened, _: &EventMeta) {}
}

impl PgProjection for Parking {
    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.fail {
            sqlx::query("SELECT 1 / 0").execute(tx).await?;
        }
        Ok(())
    }

    async fn clear(_: &mut PgConnection) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

/// A parked event at `position` of stream `account-1`, failed.
fn parked(position: u64) -> ParkedEvent {
    ParkedEvent::new(
        Position(position),
        stream("account-1"),
        "test.happened".into(),
        format!("panicked at {position}"),
        true,
        SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_000 + position),
    )
}

#[tokio::test]
async fn parked_events_commit_with_the_checkpoint_move() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    let tables = PgTables::<Parking>::new(store.clone());
    const { assert!(<PgTables<Parking> as Target>::PARKING) };
    tables.setup().await.expect("setup");
    let whole = Partition::WHOLE;

    let first = Advance::new(Position::START, Position(5)).with_parked(vec![parked(3)]);
    let done = tables.commit(Parking::default(), first.clone()).await;
    assert_eq!(done.expect("commit"), Committed::Done);
    assert_eq!(tables.parked(whole).await.expect("parked"), vec![parked(3)]);
    assert_eq!(
        store.parked_events("parking").await.expect("parked"),
        vec![parked(3)],
        "kept under the projection's checkpoint name"
    );

    // The same batch again: the checkpoint is no longer at its start, nothing is kept.
    let again = first.with_parked(vec![parked(4)]);
    let moved = tables.commit(Parking::default(), again).await;
    assert_eq!(moved.expect("commit"), Committed::Moved);
    assert_eq!(tables.parked(whole).await.expect("parked"), vec![parked(3)]);

    // A write that fails rolls back the parked events and the unparked ones with it.
    let next = Advance::new(Position(5), Position(8))
        .with_parked(vec![parked(7)])
        .with_unparked(vec![Position(3)]);
    let failed = tables.commit(Parking { fail: true }, next.clone()).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(tables.parked(whole).await.expect("parked"), vec![parked(3)]);
    assert_eq!(
        tables.checkpoint(whole).await.expect("checkpoint"),
        Some(Position(5))
    );

    let done = tables.commit(Parking::default(), next).await;
    assert_eq!(done.expect("commit"), Committed::Done);
    assert_eq!(tables.parked(whole).await.expect("parked"), vec![parked(7)]);

    // A partition's parked events are its own.
    let half = Partition::new(1, 2).expect("a partition");
    let split = Advance::new(Position::START, Position(9))
        .in_partition(half)
        .with_parked(vec![parked(9)]);
    let done = tables.commit(Parking::default(), split).await;
    assert_eq!(done.expect("commit"), Committed::Done);
    assert_eq!(tables.parked(half).await.expect("parked"), vec![parked(9)]);
    assert_eq!(tables.parked(whole).await.expect("parked"), vec![parked(7)]);

    // A rebuild's reset forgets them all, with the checkpoints.
    tables.reset().await.expect("reset");
    assert_eq!(tables.parked(whole).await.expect("parked"), Vec::new());
    assert_eq!(tables.parked(half).await.expect("parked"), Vec::new());
    assert_eq!(tables.checkpoint(half).await.expect("checkpoint"), None);

    testing::drop_schema(&store).await.expect("drop schema");
}

#[tokio::test]
async fn a_corrupt_parked_event_is_corrupt_naming_its_row() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    let schema = store.schema().as_str().to_owned();
    let plants = [
        ("stream_id", "'', 'test.happened', 'now()'"),
        ("name", "'account-1', '', 'now()'"),
        ("parked_at", "'account-1', 'test.happened', 'infinity'"),
    ];
    for (column, values) in plants {
        sqlx::raw_sql(&format!(
            "DELETE FROM {schema}.parked_events; \
             INSERT INTO {schema}.parked_events \
             (consumer, position, stream_id, name, parked_at, error, failed) \
             VALUES ('c', 3, {values}, 'boom', true)"
        ))
        .execute(&pool)
        .await
        .expect("a planted row");
        match store.parked_events("c").await {
            Err(StoreError::Corrupt { location, .. }) => assert_eq!(
                location,
                format!("{schema}.parked_events, consumer \"c\", position 3, column {column}")
            ),
            other => panic!("{column}: {other:?}"),
        }
    }
    testing::drop_schema(&store).await.expect("drop schema");
}
