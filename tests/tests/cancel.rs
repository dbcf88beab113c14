//! Subscriptions are cancel safe: each of `next`, `try_next`, `try_next_batch` and the
//! `Stream`, dropped again and again in a `select!` or a `timeout` while reads and waits are
//! in flight, delivers every event of the log once, in order.
//!
//! The store's reads and waits yield to the executor a few times before they complete (as a
//! network round trip would), so most cancellations land on a read or a wait in flight.
#![allow(clippy::unwrap_used)]

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use es_core::codec::Encoded;
use es_core::prelude::*;
use es_core::testing::hooked::{Hooked, StoreHooks};
use es_core::{NewEvent, RecordedEvent, StoreError, Subscription};
use es_memstore::MemStore;
use futures_core::Stream;

/// Events the writer appends.
const EVENTS: u64 = 1_500;

/// Reads and waits that take a few polls, like a round trip.
#[derive(Debug, Clone, Default)]
struct Slow {
    /// Drives how many times each call yields: 0 to 3, varying.
    calls: Arc<AtomicU64>,
}

impl Slow {
    async fn delay(&self) {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        for _ in 0..(call % 4) {
            tokio::task::yield_now().await;
        }
    }
}

impl<S: EventStore> StoreHooks<S> for Slow {
    async fn read_all(
        &self,
        inner: &S,
        after: Position,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.delay().await;
        inner.read_all(after, max_count).await
    }

    async fn wait_for_events(&self, inner: &S, after: Position) -> Result<(), StoreError> {
        self.delay().await;
        inner.wait_for_events(after).await
    }
}

type SlowStore = Hooked<MemStore, Slow>;

/// Appends `EVENTS` events, one to three per append, yielding between appends and pausing
/// for a millisecond every fifth append (so that subscribers also wait for appends).
fn spawn_writer(store: SlowStore) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stream = StreamId::new("tick-1").unwrap();
        let mut appended = 0;
        while appended < EVENTS {
            let count = (appended % 3 + 1).min(EVENTS - appended);
            let events = (0..count)
                .map(|_| {
                    NewEvent::new(Encoded {
                        name: "tick",
                        version: 1,
                        payload: "{}".into(),
                    })
                })
                .collect();
            store
                .append(&stream, ExpectedVersion::Any, events)
                .await
                .unwrap();
            appended += count;
            if appended.is_multiple_of(5) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    })
}

/// What a consumer saw: the positions delivered, and how many calls it dropped.
#[derive(Debug, Default)]
struct Seen {
    positions: Vec<u64>,
    cancelled: u64,
}

impl Seen {
    fn take(&mut self, event: RecordedEvent) {
        self.positions.push(event.position.0);
    }

    fn assert_whole_log(&self, how: &str) {
        let expected: Vec<u64> = (1..=EVENTS).collect();
        assert_eq!(
            self.positions, expected,
            "{how}: every event once, in order"
        );
        assert!(
            self.cancelled >= 100,
            "{how}: only {} calls were cancelled",
            self.cancelled
        );
        eprintln!("{how}: {} calls cancelled", self.cancelled);
    }
}

/// Runs `consume` against a live writer until it has seen the whole log.
async fn against_a_writer(
    batch_size: usize,
    consume: impl AsyncFnMut(&mut Subscription<SlowStore>, &mut Seen),
) -> Seen {
    let mut consume = consume;
    let store = Hooked::new(MemStore::new(), Slow::default());
    let mut subscription = store.subscribe(Position::START).with_batch_size(batch_size);
    let writer = spawn_writer(store.clone());
    let mut seen = Seen::default();
    tokio::time::timeout(Duration::from_secs(60), async {
        while (seen.positions.len() as u64) < EVENTS {
            consume(&mut subscription, &mut seen).await;
        }
    })
    .await
    .expect("the consumer sees the whole log");
    writer.await.unwrap();
    assert_eq!(subscription.position(), Position(EVENTS));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_in_a_select_loses_and_repeats_nothing() {
    let seen = against_a_writer(7, async |subscription, seen| {
        tokio::select! {
            event = subscription.next() => seen.take(event.unwrap()),
            () = tokio::task::yield_now() => seen.cancelled += 1,
        }
    })
    .await;
    seen.assert_whole_log("next in select!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_under_a_timeout_loses_and_repeats_nothing() {
    let seen = against_a_writer(5, async |subscription, seen| {
        match tokio::time::timeout(Duration::from_micros(500), subscription.next()).await {
            Ok(event) => seen.take(event.unwrap()),
            Err(_) => seen.cancelled += 1,
        }
    })
    .await;
    seen.assert_whole_log("next under timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_next_and_try_next_batch_in_a_select_lose_and_repeat_nothing() {
    let mut turn = 0_u64;
    let seen = against_a_writer(4, async |subscription, seen| {
        turn += 1;
        if turn.is_multiple_of(2) {
            tokio::select! {
                event = subscription.try_next() => {
                    if let Some(event) = event.unwrap() {
                        seen.take(event);
                    }
                }
                () = tokio::task::yield_now() => seen.cancelled += 1,
            }
        } else {
            tokio::select! {
                batch = subscription.try_next_batch() => {
                    for event in batch.unwrap() {
                        seen.take(event);
                    }
                }
                () = tokio::task::yield_now() => seen.cancelled += 1,
            }
        }
    })
    .await;
    seen.assert_whole_log("try_next and try_next_batch in select!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_in_a_select_loses_and_repeats_nothing() {
    let seen = against_a_writer(6, async |subscription, seen| {
        let next = poll_fn(|cx| Pin::new(&mut *subscription).poll_next(cx));
        tokio::select! {
            item = next => seen.take(item.expect("the stream never ends").unwrap()),
            () = tokio::task::yield_now() => seen.cancelled += 1,
        }
    })
    .await;
    seen.assert_whole_log("the Stream in select!");
}
