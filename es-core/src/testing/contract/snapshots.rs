//! The contract checks of one rule: snapshots keep the newest per stream.

use bytes::Bytes;

use crate::envelope::{StreamId, Version};
use crate::snapshot::{Snapshot, SnapshotStore};

use super::{Checked, Failure, Tally, stream};

fn snapshot(id: &StreamId, version: u64, payload: &'static str) -> Snapshot {
    Snapshot::new(
        id.clone(),
        Version(version),
        1,
        Bytes::from_static(payload.as_bytes()),
    )
}

/// The parts of a snapshot a store must keep exactly (`taken_at` may lose precision).
fn kept(snapshot: Option<&Snapshot>) -> Option<(StreamId, Version, u32, Bytes)> {
    snapshot.map(|s| {
        (
            s.stream_id.clone(),
            s.version,
            s.schema_version,
            s.payload.clone(),
        )
    })
}

pub(super) async fn snapshots_round_trip<S: SnapshotStore>(store: &S, t: &mut Tally) -> Checked {
    let (a, b) = (stream("contract-a")?, stream("contract-b")?);
    ensure!(
        t,
        store.load_snapshot(&a).await?.is_none(),
        "no snapshot at first"
    );
    let first = snapshot(&a, 10, "{\"state\":10}");
    store.save_snapshot(first.clone()).await?;
    let loaded = store.load_snapshot(&a).await?;
    ensure_eq!(
        t,
        kept(loaded.as_ref()),
        kept(Some(&first)),
        "the saved snapshot"
    );
    let newer = Snapshot::new(a.clone(), Version(20), 3, Bytes::from_static(&[0xff, 0x01]));
    store.save_snapshot(newer.clone()).await?;
    let loaded = store.load_snapshot(&a).await?;
    ensure_eq!(
        t,
        kept(loaded.as_ref()),
        kept(Some(&newer)),
        "the newer snapshot"
    );
    ensure!(
        t,
        store.load_snapshot(&b).await?.is_none(),
        "another stream has none"
    );
    Ok(())
}

pub(super) async fn older_snapshot_never_replaces_newer<S: SnapshotStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-a")?;
    let newer = snapshot(&id, 20, "{\"state\":20}");
    store.save_snapshot(newer.clone()).await?;
    store
        .save_snapshot(snapshot(&id, 10, "{\"state\":10}"))
        .await?;
    let loaded = store.load_snapshot(&id).await?;
    ensure_eq!(
        t,
        kept(loaded.as_ref()),
        kept(Some(&newer)),
        "after saving an older one"
    );
    Ok(())
}
