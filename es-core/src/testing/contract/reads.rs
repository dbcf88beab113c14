//! The contract checks of one rule: reads: paging, repeatability, lending.

use std::ops::ControlFlow;

use crate::envelope::{Position, RecordedEvent, StoredEvent, Version};
use crate::store::{EventStore, ExpectedVersion};

use super::{Checked, Failure, Tally, batch, nth, stream, versions, whole_log};

pub(super) async fn read_stream_pages<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 10))
        .await?;
    let from_zero = store.read_stream(&id, Version(0), 100).await?;
    let from_one = store.read_stream(&id, Version(1), 100).await?;
    ensure_eq!(t, from_zero, from_one, "reading from version 0 and 1");
    let middle = store.read_stream(&id, Version(4), 3).await?;
    ensure_eq!(t, versions(&middle), vec![4, 5, 6], "versions 4..=6");
    let tail = store.read_stream(&id, Version(9), 100).await?;
    ensure_eq!(t, versions(&tail), vec![9, 10], "the tail from version 9");
    ensure!(
        t,
        store.read_stream(&id, Version(11), 100).await?.is_empty(),
        "reading past the end"
    );
    ensure!(
        t,
        store.read_stream(&id, Version(1), 0).await?.is_empty(),
        "reading 0 events"
    );
    let mut paged = Vec::new();
    let mut from = Version(1);
    loop {
        let page = store.read_stream(&id, from, 3).await?;
        let Some(last) = page.last() else { break };
        from = last.stream_version.next();
        paged.extend(page);
    }
    ensure_eq!(t, paged, from_one, "pages of 3 joined");
    Ok(())
}

pub(super) async fn read_all_pages<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    for (i, name) in ["contract-a", "contract-b", "contract-c"]
        .into_iter()
        .enumerate()
    {
        let len = u64::try_from(i).unwrap_or(0) + 3;
        store
            .append(
                &stream(name)?,
                ExpectedVersion::Any,
                batch("contract.happened", 0, len),
            )
            .await?;
    }
    let all = store.read_all(Position::START, 1_000).await?;
    ensure_eq!(t, all.len(), 12, "events in the log");
    for size in [1, 2, 5, 7] {
        let mut paged: Vec<RecordedEvent> = Vec::new();
        let mut after = Position::START;
        loop {
            let page = store.read_all(after, size).await?;
            ensure!(
                t,
                page.len() <= size,
                "a page of at most {size}: {}",
                page.len()
            );
            let Some(last) = page.last() else { break };
            after = last.position;
            paged.extend(page);
        }
        ensure_eq!(t, paged, all, "pages of {size} joined");
    }
    let middle = nth(&all, 5)?.position;
    let rest = store.read_all(middle, 1_000).await?;
    ensure_eq!(
        t,
        rest,
        all.get(6..).unwrap_or(&[]).to_vec(),
        "the events after position {middle}"
    );
    let last = nth(&all, 11)?.position;
    ensure!(
        t,
        store.read_all(last, 10).await?.is_empty(),
        "nothing after the last position"
    );
    Ok(())
}

pub(super) async fn reads_are_repeatable<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 5))
        .await?;
    let first = (
        store.read_stream(&id, Version(1), 100).await?,
        whole_log(store).await?,
    );
    store
        .append(
            &stream("contract-b")?,
            ExpectedVersion::Any,
            batch("contract.other", 0, 2),
        )
        .await?;
    let again = store.read_stream(&id, Version(1), 100).await?;
    ensure_eq!(
        t,
        again,
        first.0,
        "the stream read again after other appends"
    );
    let log = whole_log(store).await?;
    ensure_eq!(
        t,
        log.get(..first.1.len()).unwrap_or(&log).to_vec(),
        first.1,
        "the log's prefix read again"
    );
    Ok(())
}

pub(super) async fn visit_stream_matches_read_stream<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 8))
        .await?;
    let read = store.read_stream(&id, Version(3), 4).await?;
    // What a visit lends, owned: everything but the event id and the metadata.
    type Lent = (
        String,
        u64,
        u64,
        String,
        u32,
        Vec<u8>,
        std::time::SystemTime,
    );
    let own = |event: StoredEvent<'_>| -> Lent {
        (
            event.stream_id.to_string(),
            event.stream_version.0,
            event.position.0,
            event.name.to_owned(),
            event.schema_version,
            event.payload.to_vec(),
            event.recorded_at,
        )
    };
    let mut seen = Vec::new();
    let visited = store
        .visit_stream(&id, Version(3), 4, |event| {
            seen.push(own(event));
            ControlFlow::Continue(())
        })
        .await?;
    ensure_eq!(t, visited, 4, "events visited");
    let expected: Vec<Lent> = read.iter().map(|event| own(event.as_stored())).collect();
    ensure_eq!(
        t,
        seen,
        expected,
        "visited events, as read_stream reads them"
    );
    let mut seen = Vec::new();
    let visited = store
        .visit_stream(&id, Version(1), 100, |event| {
            seen.push(event.stream_version.0);
            if event.stream_version == Version(2) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await?;
    ensure_eq!(
        t,
        (visited, seen),
        (2, vec![1, 2]),
        "visiting stops at the break"
    );
    Ok(())
}
