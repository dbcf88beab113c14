//! The contract checks of one rule: leases share a partitioned consumer's partitions among
//! its live workers, each partition held by one worker at a time.

use std::time::Duration;

use uuid::Uuid;

use crate::projection::{Heartbeat, LeaseStore};
use crate::retry::sleep;

use super::{Checked, Failure, Tally};

/// A lease long enough that nothing runs out during a check.
const LONG: Duration = Duration::from_secs(60);

/// The partitions `worker` holds after a heartbeat, or a failure naming `what`.
async fn held<S: LeaseStore>(
    store: &S,
    consumer: &str,
    worker: Uuid,
    count: u32,
    lease: Duration,
    what: &str,
) -> Result<Vec<u32>, Failure> {
    match store.heartbeat(consumer, worker, count, lease).await? {
        Heartbeat::Held(partitions) => Ok(partitions),
        Heartbeat::OtherCount { count } => Err(Failure(format!(
            "{what}: refused as kept for {count} partitions"
        ))),
    }
}

/// Workers sorted by id, as the rule ranks them.
fn workers(n: usize) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    ids.sort_unstable();
    ids
}

pub(super) async fn leases_share_partitions_among_live_workers<S: LeaseStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let ids = workers(3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let alone = held(store, "totals", a, 8, LONG, "the first worker").await?;
    ensure_eq!(
        t,
        alone,
        (0..8).collect::<Vec<_>>(),
        "a lone worker holds every partition"
    );

    // A second worker joins: its share is held until the first gives it up.
    let joined = held(store, "totals", b, 8, LONG, "the second worker").await?;
    ensure_eq!(
        t,
        joined,
        Vec::<u32>::new(),
        "a share still held by a live lease is not taken"
    );
    let shrunk = held(store, "totals", a, 8, LONG, "the first worker again").await?;
    ensure_eq!(
        t,
        shrunk,
        vec![0, 2, 4, 6],
        "the first worker keeps its share only"
    );
    let grown = held(store, "totals", b, 8, LONG, "the second worker again").await?;
    ensure_eq!(
        t,
        grown,
        vec![1, 3, 5, 7],
        "the second worker takes what was given up"
    );

    // Another consumer's leases are its own.
    let other = held(store, "emails", c, 2, LONG, "another consumer").await?;
    ensure_eq!(
        t,
        other,
        vec![0, 1],
        "another consumer shares nothing with the first"
    );

    // A clean stop gives the partitions up at once.
    store.release("totals", b).await?;
    let all_again = held(store, "totals", a, 8, LONG, "after a release").await?;
    ensure_eq!(
        t,
        all_again,
        (0..8).collect::<Vec<_>>(),
        "the released share is taken"
    );
    Ok(())
}

pub(super) async fn expired_leases_are_taken_over<S: LeaseStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let ids = workers(2);
    let (a, b) = (ids[0], ids[1]);
    let short = Duration::from_millis(200);
    let first = held(store, "totals", a, 4, short, "the first worker").await?;
    ensure_eq!(
        t,
        first,
        vec![0, 1, 2, 3],
        "a lone worker holds every partition"
    );
    let waiting = held(store, "totals", b, 4, LONG, "the second worker").await?;
    ensure_eq!(
        t,
        waiting,
        Vec::<u32>::new(),
        "nothing is free while the first lives"
    );
    // The first worker stops renewing (it died): after its lease, the second takes all.
    sleep(short + Duration::from_millis(300)).await;
    let taken = held(store, "totals", b, 4, LONG, "after the lease ran out").await?;
    ensure_eq!(
        t,
        taken,
        vec![0, 1, 2, 3],
        "a dead worker's partitions are taken over"
    );
    // Back, the first worker is a newcomer: it holds nothing another live lease holds.
    let back = held(store, "totals", a, 4, LONG, "the first worker, back").await?;
    ensure_eq!(
        t,
        back,
        Vec::<u32>::new(),
        "a returning worker waits for its share to be given up"
    );
    Ok(())
}

pub(super) async fn leases_keep_their_partition_count<S: LeaseStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let ids = workers(2);
    let held_four = held(store, "totals", ids[0], 4, LONG, "a worker of 4").await?;
    ensure_eq!(
        t,
        held_four.len(),
        4,
        "the first worker holds its 4 partitions"
    );
    let other = store.heartbeat("totals", ids[1], 8, LONG).await?;
    ensure_eq!(
        t,
        other,
        Heartbeat::OtherCount { count: 4 },
        "a worker of another count is refused"
    );
    // Also once every worker is gone: the checkpoints are kept for 4.
    store.release("totals", ids[0]).await?;
    let after = store.heartbeat("totals", ids[1], 8, LONG).await?;
    ensure_eq!(
        t,
        after,
        Heartbeat::OtherCount { count: 4 },
        "still refused with nobody live"
    );
    store.forget_leases("totals").await?;
    let fresh = held(store, "totals", ids[1], 8, LONG, "after forgetting").await?;
    ensure_eq!(
        t,
        fresh,
        (0..8).collect::<Vec<_>>(),
        "forgotten leases take a new count"
    );
    Ok(())
}
