//! The store rules of DESIGN.md that this store's API covers, checked on `MemStore`.

use std::collections::HashSet;

use es_core::codec::Encoded;
use es_core::store::{Limit, limits};
use es_core::{EventStore, ExpectedVersion, NewEvent, Position, StoreError, StreamId, Version};
use es_memstore::MemStore;

fn event(name: &'static str, payload: &str) -> NewEvent {
    NewEvent::new(Encoded {
        name,
        version: 1,
        payload: payload.to_owned().into(),
    })
}

fn batch(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| event("test.happened", &format!("{{\"i\":{i}}}")))
        .collect()
}

fn stream(id: &str) -> StreamId {
    StreamId::new(id).expect("valid stream id")
}

#[tokio::test]
async fn append_assigns_contiguous_versions_and_positions_across_streams() {
    let store = MemStore::new();
    let (a, b) = (stream("a-1"), stream("b-1"));
    let first = store
        .append(&a, ExpectedVersion::NoStream, batch(2))
        .await
        .unwrap();
    let second = store
        .append(&b, ExpectedVersion::Any, batch(1))
        .await
        .unwrap();
    let third = store
        .append(&a, ExpectedVersion::Exact(Version(2)), batch(3))
        .await
        .unwrap();

    assert_eq!(
        (
            first.stream_version,
            first.first_position,
            first.last_position
        ),
        (Version(2), Position(1), Position(2))
    );
    assert_eq!(
        (second.stream_version, second.last_position),
        (Version(1), Position(3))
    );
    assert_eq!(
        (
            third.stream_version,
            third.first_position,
            third.last_position
        ),
        (Version(5), Position(4), Position(6))
    );

    let a_events = store.read_stream(&a, Version(1), 100).await.unwrap();
    let versions: Vec<u64> = a_events.iter().map(|e| e.stream_version.0).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    let positions: Vec<u64> = a_events.iter().map(|e| e.position.0).collect();
    assert_eq!(positions, [1, 2, 4, 5, 6]);

    let all = store.read_all(Position::START, 100).await.unwrap();
    let positions: Vec<u64> = all.iter().map(|e| e.position.0).collect();
    assert_eq!(positions, [1, 2, 3, 4, 5, 6]);
    let ids: HashSet<_> = all.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), 6, "event ids are unique");
}

#[tokio::test]
async fn a_conflicting_append_names_stream_and_versions_and_writes_nothing() {
    let store = MemStore::new();
    let s = stream("user-1");
    store
        .append(&s, ExpectedVersion::NoStream, batch(2))
        .await
        .unwrap();

    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Exact(Version(1)),
        ExpectedVersion::Exact(Version(3)),
    ] {
        let err = store.append(&s, expected, batch(3)).await.unwrap_err();
        match &err {
            StoreError::Conflict {
                stream_id,
                expected: e,
                actual,
            } => {
                assert_eq!((stream_id, *e, *actual), (&s, expected, Version(2)));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert!(err.to_string().contains("user-1"), "{err}");
    }
    assert_eq!(store.len(), 2, "no refused event was written");
    assert_eq!(store.stream_version(&s).await.unwrap(), Version(2));
    // `Exact(0)` means "no stream", like `NoStream`.
    let fresh = stream("user-2");
    store
        .append(&fresh, ExpectedVersion::Exact(Version(0)), batch(1))
        .await
        .unwrap();
    assert!(
        store
            .append(&fresh, ExpectedVersion::Exact(Version(0)), batch(1))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_batch_breaking_any_limit_is_refused_whole() {
    let store = MemStore::new();
    let s = stream("big-1");
    let mut events = batch(3);
    events[2].payload = vec![b' '; limits::MAX_PAYLOAD_LEN + 1].into();
    let err = store
        .append(&s, ExpectedVersion::Any, events)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::LimitExceeded { limit: Limit::PayloadLen, actual, .. } if actual == limits::MAX_PAYLOAD_LEN + 1),
        "{err:?}"
    );

    let err = store
        .append(&s, ExpectedVersion::Any, batch(limits::MAX_BATCH_LEN + 1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::LimitExceeded {
                limit: Limit::BatchLen,
                ..
            }
        ),
        "{err:?}"
    );

    let err = store
        .append(&s, ExpectedVersion::Any, vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EmptyAppend { .. }), "{err:?}");

    let mut bad_name = batch(2);
    bad_name[1].name = "".into();
    let err = store
        .append(&s, ExpectedVersion::Any, bad_name)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidEventName { .. }),
        "{err:?}"
    );

    let mut long_name = batch(1);
    long_name[0].name = "n".repeat(limits::MAX_EVENT_NAME_LEN + 1).into();
    let err = store
        .append(&s, ExpectedVersion::Any, long_name)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::LimitExceeded {
                limit: Limit::EventNameLen,
                ..
            }
        ),
        "{err:?}"
    );

    assert!(store.is_empty(), "nothing of a refused batch was written");
    // At the limit is fine.
    let mut at_limit = batch(1);
    at_limit[0].payload = vec![b'x'; limits::MAX_PAYLOAD_LEN].into();
    store
        .append(&s, ExpectedVersion::NoStream, at_limit)
        .await
        .unwrap();
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn reads_are_repeatable_and_respect_bounds() {
    let store = MemStore::new();
    let s = stream("r-1");
    store
        .append(&s, ExpectedVersion::Any, batch(10))
        .await
        .unwrap();

    let once = store.read_all(Position::START, usize::MAX).await.unwrap();
    let twice = store.read_all(Position::START, usize::MAX).await.unwrap();
    assert_eq!(once, twice);
    assert_eq!(&once[3].payload[..], br#"{"i":3}"#);

    let middle = store.read_stream(&s, Version(4), 3).await.unwrap();
    let versions: Vec<u64> = middle.iter().map(|e| e.stream_version.0).collect();
    assert_eq!(versions, [4, 5, 6]);
    assert!(
        store
            .read_stream(&s, Version(11), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.read_stream(&s, Version(0), 100).await.unwrap().len(),
        10
    );
    assert!(
        store
            .read_stream(&stream("missing-1"), Version(1), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let after = store.read_all(Position(7), 100).await.unwrap();
    let positions: Vec<u64> = after.iter().map(|e| e.position.0).collect();
    assert_eq!(positions, [8, 9, 10]);
    assert!(store.read_all(Position(10), 100).await.unwrap().is_empty());
    assert!(
        store
            .read_all(Position(u64::MAX), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn metadata_and_ids_are_kept_as_given() {
    let store = MemStore::new();
    let s = stream("m-1");
    let mut e = event("test.meta", "{}");
    e.metadata.headers.insert("actor".into(), "ada".into());
    e.metadata.command_id = Some(uuid_like());
    let given = e.clone();
    store
        .append(&s, ExpectedVersion::Any, vec![e])
        .await
        .unwrap();
    let read = &store.read_all(Position::START, 1).await.unwrap()[0];
    assert_eq!(read.event_id, given.event_id);
    assert_eq!(read.metadata, given.metadata);
    assert_eq!(&*read.name, "test.meta");
}

fn uuid_like() -> uuid::Uuid {
    es_core::EventId::new().0
}

#[test]
fn concurrent_writers_on_one_stream_never_duplicate_a_version() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 250;
    let store = MemStore::new();
    let s = stream("hot-1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..THREADS)
            .map(|_| {
                let (store, s) = (store.clone(), s.clone());
                tokio::spawn(async move {
                    let mut written = 0;
                    while written < PER_THREAD {
                        let version = store.stream_version(&s).await.unwrap();
                        match store
                            .append(&s, ExpectedVersion::at(version), batch(1))
                            .await
                        {
                            Ok(_) => written += 1,
                            Err(StoreError::Conflict { .. }) => {}
                            Err(other) => panic!("{other}"),
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let all = runtime
        .block_on(store.read_stream(&s, Version(1), usize::MAX))
        .unwrap();
    let versions: Vec<u64> = all.iter().map(|e| e.stream_version.0).collect();
    let expected: Vec<u64> = (1..=(THREADS * PER_THREAD) as u64).collect();
    assert_eq!(versions, expected);
}

#[tokio::test]
async fn a_repeated_command_id_is_a_duplicate_whatever_the_expected_version() {
    let store = MemStore::new();
    let s = stream("idem-1");
    let command = es_core::EventId::new().0;
    let with_command = |n| {
        let mut events = batch(n);
        for event in &mut events {
            event.metadata.command_id = Some(command);
        }
        events
    };
    let first = store
        .append(&s, ExpectedVersion::NoStream, with_command(2))
        .await
        .unwrap();
    assert!(!first.duplicate);
    // Retried with the now-stale expectation: a duplicate, not a conflict, and nothing written.
    let again = store
        .append(&s, ExpectedVersion::NoStream, with_command(2))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (
            again.stream_version,
            again.first_position,
            again.last_position
        ),
        (
            first.stream_version,
            first.first_position,
            first.last_position
        )
    );
    assert_eq!(store.len(), 2);
    let found = store.find_command(&s, command).await.unwrap();
    assert_eq!(
        found,
        Some(es_core::Recorded::Appended(first.as_duplicate()))
    );
    assert!(
        store
            .find_command(&stream("idem-2"), command)
            .await
            .unwrap()
            .is_none()
    );
    // Events without a command id are never deduplicated.
    store
        .append(&s, ExpectedVersion::Any, batch(1))
        .await
        .unwrap();
    store
        .append(&s, ExpectedVersion::Any, batch(1))
        .await
        .unwrap();
    assert_eq!(store.len(), 4);
}
