//! The contract checks of one rule: idempotent command ids.

use uuid::Uuid;

use crate::envelope::Version;
use crate::store::{EventStore, ExpectedVersion};

use super::{Checked, Failure, Tally, batch, stream, whole_log, with_command};

pub(super) async fn repeated_command_id_is_a_duplicate<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-a")?;
    let command = Uuid::now_v7();
    let first = store
        .append(
            &id,
            ExpectedVersion::NoStream,
            with_command(batch("contract.happened", 0, 2), command),
        )
        .await?;
    let before = whole_log(store).await?;
    // A retried request: checked before the expected version, so even a stale expectation
    // gets the first outcome back.
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Any,
        ExpectedVersion::Exact(Version(2)),
    ] {
        let again = store
            .append(
                &id,
                expected,
                with_command(batch("contract.happened", 5, 3), command),
            )
            .await?;
        ensure_eq!(
            t,
            again,
            first.as_duplicate(),
            "the repeated append with {expected}"
        );
    }
    ensure_eq!(
        t,
        whole_log(store).await?,
        before,
        "the log after repeated commands"
    );
    let found = store.find_command(&id, command).await?;
    ensure_eq!(t, found, Some(first.as_duplicate()), "find_command");
    let other = store
        .append(
            &id,
            ExpectedVersion::Exact(Version(2)),
            with_command(batch("contract.happened", 9, 1), Uuid::now_v7()),
        )
        .await?;
    ensure!(t, !other.duplicate, "another command id is appended");
    ensure_eq!(
        t,
        other.stream_version,
        Version(3),
        "version after another command"
    );
    ensure!(
        t,
        store.find_command(&id, Uuid::now_v7()).await?.is_none(),
        "an unknown command id is not found"
    );
    Ok(())
}

pub(super) async fn command_ids_are_per_stream<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let (a, b) = (stream("contract-a")?, stream("contract-b")?);
    let command = Uuid::now_v7();
    store
        .append(
            &a,
            ExpectedVersion::Any,
            with_command(batch("contract.happened", 0, 1), command),
        )
        .await?;
    let on_b = store
        .append(
            &b,
            ExpectedVersion::Any,
            with_command(batch("contract.happened", 1, 1), command),
        )
        .await?;
    ensure!(
        t,
        !on_b.duplicate,
        "the same command id on another stream is appended"
    );
    ensure_eq!(
        t,
        store.stream_version(&b).await?,
        Version(1),
        "the other stream's version"
    );
    Ok(())
}
