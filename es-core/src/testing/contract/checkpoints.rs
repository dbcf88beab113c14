//! The contract checks of one rule: checkpoints per projection.

use crate::envelope::Position;
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
