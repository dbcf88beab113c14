//! What `Inspect` sees that the contract suite cannot: the head held back by an append in
//! flight, as `read_all` is, and streams listed in byte order in a database whose collation
//! sorts otherwise.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use es_core::store::Inspect;
use es_core::testing::contract;
use es_core::{EventStore, ExpectedVersion, Position};
use es_postgres::sqlx::{self, Connection as _, Executor as _};
use es_postgres::testing;

mod support;
use support::{append_in, event, setup, stream, teardown};

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 2;

/// An append that took its position and has not committed holds the head back, with the
/// committed appends after it, exactly as it holds back `read_all`.
#[tokio::test]
async fn the_head_waits_for_an_append_in_flight() {
    let Some((pool, store)) = setup(TESTS).await else {
        return;
    };
    let first = store
        .append(&stream("cart-1"), ExpectedVersion::NoStream, vec![event(1)])
        .await
        .expect("append");
    assert_eq!(store.head().await.expect("head"), first.last_position);

    let mut held = pool.begin().await.expect("begin");
    let (outcome, _, held_first, _) = append_in(&mut held, &store, "cart-2", -1, &[event(2)])
        .await
        .expect("the held append");
    assert_eq!(outcome, "appended");
    let later = store
        .append(&stream("cart-3"), ExpectedVersion::NoStream, vec![event(3)])
        .await
        .expect("the later append");
    assert!(
        i64::try_from(later.first_position.0).expect("small") > held_first.expect("a position")
    );
    assert_eq!(
        store.head().await.expect("head"),
        first.last_position,
        "the committed later append is not counted while the one before it is in flight"
    );
    let listed: Vec<String> = store
        .streams(None, 10)
        .await
        .expect("streams")
        .iter()
        .map(|info| info.id.as_str().to_owned())
        .collect();
    assert_eq!(
        listed,
        ["cart-1", "cart-3"],
        "committed streams are listed; the one in flight is not yet"
    );

    held.commit().await.expect("commit");
    let head = store.head().await.expect("head");
    assert_eq!(head, later.last_position);
    let read = store.read_all(Position::START, 10).await.expect("read");
    assert_eq!(read.last().map(|event| event.position), Some(head));
    teardown(&store).await;
}

/// In a database whose default collation is not byte order (ICU's English), streams and
/// checkpoints are still listed in byte order of their names: the whole contract passes.
#[tokio::test]
async fn a_database_of_another_collation_lists_in_byte_order() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let name = format!("es_inspect_icu_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(database.url())
        .await
        .expect("connect");
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await
        .expect("drop a leftover");
    let created = admin
        .execute(
            format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' \
                 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C'"
            )
            .as_str(),
        )
        .await;
    if let Err(error) = created {
        // A server built without ICU, or older than 15, cannot make such a database.
        eprintln!("es-postgres: skipped the ICU collation test: {error}");
        return;
    }
    let (base, _) = database
        .url()
        .rsplit_once('/')
        .expect("a URL with a database");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&format!("{base}/{name}"))
        .await
        .expect("a pool on the new database");
    let ordered: bool = sqlx::query_scalar("SELECT 'a'::text < 'B'::text")
        .fetch_one(&pool)
        .await
        .expect("compare");
    assert!(ordered, "the database sorts by its locale, not by bytes");

    let report =
        contract::inspect(|| async { testing::fresh_store(&pool).await.expect("a fresh store") })
            .await;
    println!("PgStore inspect, ICU collation: {report}");
    pool.close().await;
    admin
        .execute(format!("DROP DATABASE {name}").as_str())
        .await
        .expect("drop the database");
    report.assert_passed();
    assert_eq!(report.checks(), 4, "every check ran: {report}");
}
