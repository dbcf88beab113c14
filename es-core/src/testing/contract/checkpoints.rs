//! The contract checks of one rule: checkpoints per projection.

use std::time::{Duration, SystemTime};

use crate::envelope::{Position, StreamId};
use crate::projection::ParkedEvent;
use crate::store::CheckpointStore;

use super::{Checked, Failure, Tally};

pub(super) async fn checkpoints_round_trip<S: CheckpointStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    ensure_eq!(
        t,
        store.load_checkpoint("directory").await?,
        None,
        "no checkpoint at first"
    );
    store.save_checkpoint("directory", Position(5)).await?;
    store.save_checkpoint("totals", Position(9)).await?;
    ensure_eq!(
        t,
        store.load_checkpoint("directory").await?,
        Some(Position(5)),
        "the saved checkpoint"
    );
    store.save_checkpoint("directory", Position(12)).await?;
    ensure_eq!(
        t,
        store.load_checkpoint("directory").await?,
        Some(Position(12)),
        "the replaced checkpoint"
    );
    store.delete_checkpoint("directory").await?;
    ensure_eq!(
        t,
        store.load_checkpoint("directory").await?,
        None,
        "after delete"
    );
    ensure_eq!(
        t,
        store.load_checkpoint("totals").await?,
        Some(Position(9)),
        "another projection's checkpoint"
    );
    // A consumer's partitions keep checkpoints of their own, forgotten with the consumer's.
    store.save_checkpoint("directory#0/2", Position(3)).await?;
    store.save_checkpoint("directory#1/2", Position(4)).await?;
    store.save_checkpoint("directory_v2", Position(6)).await?;
    store.save_checkpoint("directory", Position(7)).await?;
    store.delete_checkpoint("directory").await?;
    for gone in ["directory", "directory#0/2", "directory#1/2"] {
        ensure_eq!(
            t,
            store.load_checkpoint(gone).await?,
            None,
            "{gone} after deleting directory's"
        );
    }
    ensure_eq!(
        t,
        store.load_checkpoint("directory_v2").await?,
        Some(Position(6)),
        "a checkpoint whose name only starts like it"
    );
    store.delete_checkpoint("nobody").await?;
    ensure_eq!(
        t,
        store.load_checkpoint("nobody").await?,
        None,
        "deleting a missing one"
    );
    Ok(())
}

/// A parked event of the suite, failed or waiting.
fn parked(position: u64, stream: &str, failed: bool) -> Result<ParkedEvent, Failure> {
    let stream_id = StreamId::new(stream)
        .map_err(|error| Failure(format!("the suite's own stream id: {error}")))?;
    Ok(ParkedEvent::new(
        Position(position),
        stream_id,
        "account.deposited".into(),
        if failed {
            "panicked: boom".to_owned()
        } else {
            format!("waits behind position {}", position - 1)
        },
        failed,
        // Whole microseconds, as every store keeps times.
        SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456),
    ))
}

pub(super) async fn parked_events_round_trip<S: CheckpointStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    ensure_eq!(
        t,
        store.parked_events("directory").await?,
        Vec::new(),
        "nothing parked at first"
    );
    let (a, b, c) = (
        parked(7, "account-1", true)?,
        parked(9, "account-1", false)?,
        parked(4, "account-2", true)?,
    );
    store
        .park_events("directory", &[b.clone(), a.clone()])
        .await?;
    store
        .park_events("directory#1/2", std::slice::from_ref(&c))
        .await?;
    ensure_eq!(
        t,
        store.parked_events("directory").await?,
        vec![a.clone(), b.clone()],
        "parked events in position order, with everything they were parked with"
    );
    ensure_eq!(
        t,
        store.parked_events("directory#1/2").await?,
        vec![c],
        "a partition's parked events are its own"
    );
    // Parked again (failed again on a retry): the record is replaced.
    let mut again = a.clone();
    again.error = "panicked: boom again".to_owned();
    store.park_events("directory", &[again.clone()]).await?;
    ensure_eq!(
        t,
        store.parked_events("directory").await?,
        vec![again, b.clone()],
        "the record replaced"
    );
    store
        .unpark_events("directory", &[Position(7), Position(100)])
        .await?;
    ensure_eq!(
        t,
        store.parked_events("directory").await?,
        vec![b],
        "an unparked event is forgotten, a missing one ignored"
    );
    store.save_checkpoint("directory", Position(9)).await?;
    store.delete_checkpoint("directory").await?;
    for consumer in ["directory", "directory#1/2"] {
        ensure_eq!(
            t,
            store.parked_events(consumer).await?,
            Vec::new(),
            "{consumer}'s parked events forgotten with directory's checkpoint"
        );
    }
    Ok(())
}
