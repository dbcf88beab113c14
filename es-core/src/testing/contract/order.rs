//! The contract checks of one rule: contiguous versions, strictly increasing positions.

use crate::envelope::{EventId, Version};
use crate::store::{EventStore, ExpectedVersion};

use super::{Checked, Failure, Tally, batch, positions, stream, versions, whole_log};

pub(super) async fn stream_versions_are_contiguous<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let ids = [
        stream("contract-a")?,
        stream("contract-b")?,
        stream("contract-c")?,
    ];
    let mut expected = [0_u64; 3];
    for round in 0..12_u64 {
        let which = usize::try_from(round % 3).unwrap_or(0);
        let len = round % 4 + 1;
        let appended = store
            .append(
                &ids[which],
                ExpectedVersion::Any,
                batch("contract.happened", round, len),
            )
            .await?;
        expected[which] += len;
        ensure_eq!(
            t,
            appended.stream_version,
            Version(expected[which]),
            "version of {} after round {round}",
            ids[which]
        );
    }
    for (id, count) in ids.iter().zip(expected) {
        let read = store.read_stream(id, Version(1), 1_000).await?;
        let want: Vec<u64> = (1..=count).collect();
        ensure_eq!(t, versions(&read), want, "versions of {id}");
        ensure!(
            t,
            read.iter().all(|event| event.stream_id == *id),
            "{id} reads only its own events"
        );
        ensure_eq!(
            t,
            store.stream_version(id).await?,
            Version(count),
            "stream_version of {id}"
        );
    }
    Ok(())
}

pub(super) async fn global_positions_strictly_increase<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let ids = [stream("contract-a")?, stream("contract-b")?];
    let mut appends = Vec::new();
    let mut sent = Vec::new();
    for round in 0..10_u64 {
        let id = &ids[usize::try_from(round % 2).unwrap_or(0)];
        let events = batch("contract.happened", round * 10, round % 3 + 1);
        sent.extend(events.iter().map(|event| event.event_id));
        appends.push(store.append(id, ExpectedVersion::Any, events).await?);
    }
    let log = whole_log(store).await?;
    let ids_in_log: Vec<EventId> = log.iter().map(|event| event.event_id).collect();
    ensure_eq!(
        t,
        ids_in_log,
        sent,
        "the log holds every event once, in append order"
    );
    ensure!(
        t,
        log.windows(2)
            .all(|pair| pair[0].position < pair[1].position),
        "positions strictly increase: {:?}",
        positions(&log)
    );
    for pair in appends.windows(2) {
        ensure!(
            t,
            pair[0].last_position < pair[1].first_position,
            "a later append lands after an earlier one: {:?} then {:?}",
            pair[0],
            pair[1]
        );
    }
    Ok(())
}
