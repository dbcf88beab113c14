//! The contract checks of one rule: optimistic concurrency, conflicts write nothing.

use std::fmt;

use crate::envelope::{StreamId, Version};
use crate::store::{Appended, EventStore, ExpectedVersion, StoreError};

use super::{BoxFuture, Checked, Failure, Tally, batch, join_all, stream, versions, whole_log};

/// Asserts that `result` is the conflict `(expected, actual)` on `id`.
fn ensure_conflict<T: fmt::Debug>(
    t: &mut Tally,
    result: Result<T, StoreError>,
    id: &StreamId,
    expected: ExpectedVersion,
    actual: Version,
) -> Checked {
    match result {
        Err(StoreError::Conflict {
            stream_id,
            expected: got_expected,
            actual: got_actual,
        }) => {
            ensure_eq!(t, stream_id, *id, "the conflict's stream");
            ensure_eq!(t, got_expected, expected, "the conflict's expected version");
            ensure_eq!(t, got_actual, actual, "the conflict's actual version");
            Ok(())
        }
        other => Err(Failure(format!(
            "expected a conflict (expected {expected}, actual {actual}) on {id}, got {other:?}"
        ))),
    }
}

pub(super) async fn expected_no_stream<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(
            &id,
            ExpectedVersion::NoStream,
            batch("contract.happened", 1, 2),
        )
        .await?;
    let before = whole_log(store).await?;
    let refused = store
        .append(
            &id,
            ExpectedVersion::NoStream,
            batch("contract.happened", 3, 2),
        )
        .await;
    ensure_conflict(t, refused, &id, ExpectedVersion::NoStream, Version(2))?;
    let zero = ExpectedVersion::Exact(Version(0));
    let refused = store
        .append(&id, zero, batch("contract.happened", 3, 1))
        .await;
    ensure_conflict(t, refused, &id, zero, Version(2))?;
    ensure_eq!(
        t,
        whole_log(store).await?,
        before,
        "the log after refused appends"
    );
    Ok(())
}

pub(super) async fn expected_exact<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(
            &id,
            ExpectedVersion::Exact(Version(0)),
            batch("contract.happened", 1, 2),
        )
        .await?;
    let before = whole_log(store).await?;
    for stale in [Version(1), Version(3), Version(100)] {
        let refused = store
            .append(
                &id,
                ExpectedVersion::Exact(stale),
                batch("contract.happened", 9, 2),
            )
            .await;
        ensure_conflict(t, refused, &id, ExpectedVersion::Exact(stale), Version(2))?;
    }
    let missing = stream("contract-missing")?;
    let refused = store
        .append(
            &missing,
            ExpectedVersion::Exact(Version(1)),
            batch("contract.happened", 9, 1),
        )
        .await;
    ensure_conflict(
        t,
        refused,
        &missing,
        ExpectedVersion::Exact(Version(1)),
        Version(0),
    )?;
    ensure_eq!(
        t,
        whole_log(store).await?,
        before,
        "the log after refused appends"
    );
    let appended = store
        .append(
            &id,
            ExpectedVersion::Exact(Version(2)),
            batch("contract.happened", 3, 1),
        )
        .await?;
    ensure_eq!(
        t,
        appended.stream_version,
        Version(3),
        "version after a matching append"
    );
    Ok(())
}

pub(super) async fn expected_any<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    for n in 0..3 {
        let appended = store
            .append(
                &id,
                ExpectedVersion::Any,
                batch("contract.happened", n * 2, 2),
            )
            .await?;
        ensure_eq!(
            t,
            appended.stream_version,
            Version(n * 2 + 2),
            "version after append {n} with `Any`"
        );
    }
    Ok(())
}

pub(super) async fn racing_appends_have_one_winner<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-race")?;
    store
        .append(
            &id,
            ExpectedVersion::NoStream,
            batch("contract.happened", 0, 1),
        )
        .await?;
    for round in 0..5_u64 {
        let version = store.stream_version(&id).await?;
        let racers: Vec<BoxFuture<'_, Result<Appended, StoreError>>> = (0..8)
            .map(|racer| {
                let events = batch("contract.raced", round * 100 + racer * 10, 2);
                Box::pin(store.append(&id, ExpectedVersion::Exact(version), events))
                    as BoxFuture<'_, Result<Appended, StoreError>>
            })
            .collect();
        let results = join_all(racers).await;
        let winners = results.iter().filter(|result| result.is_ok()).count();
        ensure_eq!(t, winners, 1, "winners among 8 racing appends at {version}");
        for result in results.into_iter().filter(Result::is_err) {
            let expected = ExpectedVersion::Exact(version);
            ensure_conflict(t, result, &id, expected, Version(version.0 + 2))?;
        }
        ensure_eq!(
            t,
            store.stream_version(&id).await?,
            Version(version.0 + 2),
            "the stream grew by the winner's batch only"
        );
    }
    let read = store.read_stream(&id, Version(1), 100).await?;
    let expected: Vec<u64> = (1..=11).collect();
    ensure_eq!(t, versions(&read), expected, "versions after the races");
    Ok(())
}
