//! The contract checks of one rule: subscriptions without gap or duplicate.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::envelope::{EventId, Position, RecordedEvent, StreamId};
use crate::store::{EventStore, ExpectedVersion, StoreError};
use crate::util::YieldNow;

use super::{
    BoxFuture, Checked, Failure, Tally, batch, join_all, nth, positions, stream, whole_log, within,
};

pub(super) async fn subscription_catches_up_then_follows<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 5))
        .await?;
    let mut subscription = store.subscribe(Position::START).with_batch_size(2);
    let mut delivered = Vec::new();
    while let Some(event) = subscription.try_next().await? {
        delivered.push(event);
    }
    ensure_eq!(
        t,
        delivered.len(),
        5,
        "stored events delivered before catching up"
    );
    let live = batch("contract.live", 5, 3);
    let waiting = async {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(subscription.next().await?);
        }
        Ok(got)
    };
    let writing = async {
        YieldNow(false).await;
        store
            .append(&id, ExpectedVersion::Any, live)
            .await
            .map(|_| Vec::new())
    };
    let both = join_all::<Result<Vec<RecordedEvent>, StoreError>>(vec![
        Box::pin(waiting),
        Box::pin(writing),
    ]);
    let mut live_read = Vec::new();
    for result in within("live events", both).await? {
        live_read.extend(result?);
    }
    delivered.extend(live_read);
    ensure_eq!(
        t,
        delivered,
        whole_log(store).await?,
        "delivered = the log, once, in order"
    );
    Ok(())
}

pub(super) async fn subscription_from_a_position<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 6))
        .await?;
    let log = whole_log(store).await?;
    let mut subscription = store.subscribe(nth(&log, 2)?.position);
    let mut delivered = Vec::new();
    while let Some(event) = subscription.try_next().await? {
        delivered.push(event);
    }
    ensure_eq!(
        t,
        delivered,
        log.get(3..).unwrap_or(&[]).to_vec(),
        "the events after the third"
    );
    ensure_eq!(
        t,
        subscription.position(),
        nth(&log, 5)?.position,
        "the subscription's position"
    );
    Ok(())
}

pub(super) async fn subscription_with_concurrent_writers<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    const WRITERS: u64 = 4;
    const APPENDS: u64 = 25;
    let total = usize::try_from(WRITERS * APPENDS * 2).unwrap_or(usize::MAX);
    let mut subscription = store.subscribe(Position::START).with_batch_size(7);
    let finished = AtomicU64::new(0);
    let finished = &finished;
    let mut tasks: Vec<BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>>> = Vec::new();
    tasks.push(Box::pin(async move {
        // Reads while the writers write; once all are done (checked before the read, so
        // their appends are visible to it), a caught-up read means the end.
        let mut got = Vec::new();
        loop {
            let done = finished.load(Ordering::SeqCst) == WRITERS;
            match subscription.try_next().await? {
                Some(event) => got.push(event),
                None if done => return Ok(got),
                None => YieldNow(false).await,
            }
        }
    }));
    for writer in 0..WRITERS {
        tasks.push(Box::pin(async move {
            let id = StreamId::new(format!("contract-writer-{writer}"))
                .map_err(StoreError::InvalidStreamId)?;
            for n in 0..APPENDS {
                store
                    .append(&id, ExpectedVersion::Any, batch("contract.live", n * 2, 2))
                    .await?;
                YieldNow(false).await;
            }
            finished.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        }));
    }
    let results = within(
        "the subscriber to see every concurrent append",
        join_all(tasks),
    )
    .await?;
    let mut results = results.into_iter();
    let delivered = match results.next() {
        Some(Ok(events)) => events,
        Some(Err(error)) => return Err(Failure(format!("the subscriber failed: {error}"))),
        None => Vec::new(),
    };
    for result in results {
        if let Err(error) = result {
            return Err(Failure(format!("a writer failed: {error}")));
        }
    }
    let log = whole_log(store).await?;
    ensure_eq!(t, log.len(), total, "events in the log");
    ensure_eq!(
        t,
        positions(&delivered),
        positions(&log),
        "delivered positions"
    );
    ensure_eq!(t, delivered, log, "delivered = the log, once, in order");
    let unique: HashSet<EventId> = delivered.iter().map(|event| event.event_id).collect();
    ensure_eq!(t, unique.len(), total, "distinct events delivered");
    Ok(())
}

pub(super) async fn wait_for_events_sees_stored_events<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 3))
        .await?;
    let log = whole_log(store).await?;
    ensure_eq!(t, log.len(), 3, "events in the log");
    within("wait_for_events on a log with events after START", async {
        store.wait_for_events(Position::START).await
    })
    .await??;
    let second = nth(&log, 1)?.position;
    within("wait_for_events after the second event", async {
        store.wait_for_events(second).await
    })
    .await??;
    t.0 += 2;
    let last = nth(&log, 2)?.position;
    let woken = join_all::<Result<(), StoreError>>(vec![
        Box::pin(async { store.wait_for_events(last).await }),
        Box::pin(async {
            YieldNow(false).await;
            store
                .append(&id, ExpectedVersion::Any, batch("contract.happened", 3, 1))
                .await
                .map(|_| ())
        }),
    ]);
    for result in within("wait_for_events to see a new append", woken).await? {
        result?;
    }
    t.0 += 1;
    Ok(())
}
