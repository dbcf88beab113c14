//! What `Inspect` reads from a file edited by hand: a value no append or save writes is
//! corrupt, naming the table, the row and the column; the listing does not skip it.

mod support;

use es_core::store::Inspect;
use es_core::{CheckpointStore, EventStore, ExpectedVersion, Position, StoreError};
use es_sqlite::SqliteStore;
use es_sqlite::rusqlite::Connection;
use support::{Scratch, event, stream};

fn location(error: &StoreError) -> &str {
    match error {
        StoreError::Corrupt { location, .. } => location,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn listings_of_values_edited_by_hand_are_corrupt_naming_table_row_and_column() {
    let scratch = Scratch::new("inspect-edited");
    let path = scratch.path("app.db");
    let store = SqliteStore::open(&path).await.expect("open");
    for name in ["cart-1", "cart-2"] {
        store
            .append(
                &stream(name),
                ExpectedVersion::NoStream,
                vec![event("x", 1)],
            )
            .await
            .expect("append");
    }
    store
        .save_checkpoint("billing", Position(2))
        .await
        .expect("save");
    assert_eq!(store.streams(None, 10).await.expect("listed").len(), 2);
    store.close().await;
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "UPDATE es_events SET position = -2 WHERE position = 2;
             UPDATE es_checkpoints SET position = -1 WHERE projection = 'billing';",
        )
        .expect("edit");
    }
    let store = SqliteStore::open(&path).await.expect("open");
    let first = store.streams(None, 1).await.expect("cart-1 is fine");
    assert_eq!(first[0].id.as_str(), "cart-1");
    let error = store
        .streams(None, 2)
        .await
        .expect_err("cart-2's last event has a negative position");
    assert!(
        location(&error).ends_with("es_events, stream \"cart-2\", column position"),
        "{error:?}"
    );
    let error = store
        .checkpoints()
        .await
        .expect_err("a negative checkpoint");
    assert!(
        location(&error).ends_with("es_checkpoints, projection \"billing\", column position"),
        "{error:?}"
    );
    store.close().await;
}
