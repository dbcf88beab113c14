//! The contract checks of one rule: events read back as appended.

use bytes::Bytes;
use uuid::Uuid;

use crate::envelope::{Metadata, Position, Version};
use crate::store::{EventStore, ExpectedVersion};

use super::{Checked, Failure, Tally, batch, same_event, stream, versions, whole_log};

pub(super) async fn append_and_read_back<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    let mut sent = batch("contract.happened", 1, 3);
    // An opaque, non-UTF-8 payload and an empty one are stored byte for byte.
    sent[1].payload = Bytes::from_static(&[0xff, 0x00, 0xfe, b'{']);
    sent[1].schema_version = 7;
    sent[2].payload = Bytes::new();
    sent[2].metadata = Metadata::default();
    let appended = store
        .append(&id, ExpectedVersion::NoStream, sent.clone())
        .await?;
    ensure_eq!(
        t,
        appended.stream_version,
        Version(3),
        "version after 3 events"
    );
    ensure!(t, !appended.duplicate, "a first append is not a duplicate");
    ensure!(
        t,
        appended.first_position.0 >= 1 && appended.last_position > appended.first_position,
        "positions of a 3-event append: {appended:?}"
    );
    let read = store.read_stream(&id, Version(1), 10).await?;
    ensure_eq!(t, read.len(), 3, "events read back");
    for (i, (recorded, sent)) in read.iter().zip(&sent).enumerate() {
        ensure!(
            t,
            same_event(recorded, sent),
            "event {i} read back differs: {recorded:?} vs sent {sent:?}"
        );
        ensure_eq!(t, recorded.stream_id, id, "stream id of event {i}");
    }
    ensure_eq!(t, versions(&read), vec![1, 2, 3], "stream versions");
    ensure_eq!(
        t,
        read.first().map(|e| e.position),
        Some(appended.first_position),
        "first position"
    );
    ensure_eq!(
        t,
        read.last().map(|e| e.position),
        Some(appended.last_position),
        "last position"
    );
    ensure_eq!(
        t,
        store.stream_version(&id).await?,
        Version(3),
        "stream_version"
    );
    let log = whole_log(store).await?;
    ensure_eq!(
        t,
        log,
        read,
        "the global log holds exactly the stream's events"
    );
    Ok(())
}

pub(super) async fn unknown_stream_reads_empty<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-nobody")?;
    ensure!(
        t,
        store.read_stream(&id, Version(1), 10).await?.is_empty(),
        "an unknown stream reads as empty"
    );
    ensure_eq!(
        t,
        store.stream_version(&id).await?,
        Version::EMPTY,
        "its version"
    );
    ensure!(
        t,
        store.find_command(&id, Uuid::now_v7()).await?.is_none(),
        "no command on an unknown stream"
    );
    ensure!(
        t,
        store.read_all(Position::START, 10).await?.is_empty(),
        "a fresh store's log is empty"
    );
    Ok(())
}
