//! The contract checks of one rule: idempotent command ids, appended or refused.

use bytes::Bytes;
use uuid::Uuid;

use crate::envelope::Version;
use crate::store::{EventStore, ExpectedVersion, Recorded, Refusal, StoreError};

use super::{BoxFuture, Checked, Failure, Tally, batch, join_all, stream, whole_log, with_command};

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
    ensure_eq!(
        t,
        found,
        Some(Recorded::Appended(first.as_duplicate())),
        "find_command"
    );
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

pub(super) async fn a_refused_command_id_keeps_its_refusal<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(
            &id,
            ExpectedVersion::NoStream,
            batch("contract.happened", 0, 1),
        )
        .await?;
    let command = Uuid::now_v7();
    let payload = Bytes::from_static(b"{\"refused\":1}");
    let first = store
        .refuse(
            &id,
            ExpectedVersion::Exact(Version(1)),
            command,
            payload.clone(),
        )
        .await?;
    let refusal = Recorded::Refused(Refusal::new(Version(1), payload));
    ensure_eq!(t, &first, &refusal, "the recorded refusal");
    // Asked again, with another payload and a stale expectation: the first answer.
    let again = store
        .refuse(
            &id,
            ExpectedVersion::NoStream,
            command,
            Bytes::from_static(b"2"),
        )
        .await?;
    ensure_eq!(
        t,
        &again,
        &refusal,
        "a second refusal of the same command id"
    );
    ensure_eq!(
        t,
        store.find_command(&id, command).await?,
        Some(refusal.clone()),
        "find_command"
    );
    let before = whole_log(store).await?;
    let appended = store
        .append(
            &id,
            ExpectedVersion::Any,
            with_command(batch("contract.happened", 1, 2), command),
        )
        .await;
    ensure!(
        t,
        matches!(
            &appended,
            Err(StoreError::AlreadyRefused { stream_id, command_id, refusal: earlier })
                if *stream_id == id && *command_id == command
                    && Recorded::Refused(earlier.clone()) == refusal
        ),
        "an append with the refused command id: {appended:?}"
    );
    ensure_eq!(t, whole_log(store).await?, before, "the log after it");
    ensure_eq!(
        t,
        store.stream_version(&id).await?,
        Version(1),
        "a refusal leaves the version"
    );
    Ok(())
}

pub(super) async fn refusals_check_versions_and_earlier_appends<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-a")?;
    // On a stream with no events.
    let command = Uuid::now_v7();
    let recorded = store
        .refuse(
            &id,
            ExpectedVersion::NoStream,
            command,
            Bytes::from_static(b"0"),
        )
        .await?;
    ensure_eq!(
        t,
        recorded,
        Recorded::Refused(Refusal::new(Version(0), Bytes::from_static(b"0"))),
        "a refusal on an empty stream"
    );
    ensure_eq!(
        t,
        store.stream_version(&id).await?,
        Version(0),
        "still empty"
    );
    ensure!(
        t,
        store.read_stream(&id, Version(1), 10).await?.is_empty(),
        "no event"
    );
    // A stale expectation records nothing.
    let appended = store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 2))
        .await?;
    let stale = Uuid::now_v7();
    let refused = store
        .refuse(
            &id,
            ExpectedVersion::Exact(Version(1)),
            stale,
            Bytes::from_static(b"1"),
        )
        .await;
    ensure!(
        t,
        matches!(
            &refused,
            Err(StoreError::Conflict { stream_id, actual: Version(2), .. }) if *stream_id == id
        ),
        "a refusal decided at a stale version: {refused:?}"
    );
    ensure!(
        t,
        store.find_command(&id, stale).await?.is_none(),
        "the stale refusal is not recorded"
    );
    // An appended command id keeps its append.
    let done = Uuid::now_v7();
    let first = store
        .append(
            &id,
            ExpectedVersion::Exact(appended.stream_version),
            with_command(batch("contract.happened", 5, 1), done),
        )
        .await?;
    let refused = store
        .refuse(&id, ExpectedVersion::Any, done, Bytes::from_static(b"late"))
        .await?;
    ensure_eq!(
        t,
        refused,
        Recorded::Appended(first.as_duplicate()),
        "a refusal of an appended command id"
    );
    // Per stream: the refused id appends on another stream.
    let other = stream("contract-b")?;
    let elsewhere = store
        .append(
            &other,
            ExpectedVersion::Any,
            with_command(batch("contract.happened", 9, 1), command),
        )
        .await?;
    ensure!(t, !elsewhere.duplicate, "the refused id on another stream");
    Ok(())
}

pub(super) async fn racing_refusal_and_append_have_one_outcome<S: EventStore>(
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
    for round in 0..20_u64 {
        let version = store.stream_version(&id).await?;
        let expected = ExpectedVersion::Exact(version);
        let command = Uuid::now_v7();
        let events = with_command(batch("contract.raced", round * 10, 1), command);
        let id = &id;
        let mut racers: Vec<BoxFuture<'_, Result<Recorded, StoreError>>> = vec![
            Box::pin(async move {
                store
                    .refuse(id, expected, command, Bytes::from_static(b"no"))
                    .await
            }),
            Box::pin(async move {
                store
                    .append(id, expected, events)
                    .await
                    .map(Recorded::Appended)
            }),
        ];
        // Either starts first, by turns (a store that runs calls one at a time then records
        // each kind of outcome).
        if round % 2 == 1 {
            racers.reverse();
        }
        let results = join_all(racers).await;
        let found = store.find_command(id, command).await?;
        let Some(outcome) = found else {
            return Err(Failure(format!(
                "round {round}: no outcome recorded for the raced command id: {results:?}"
            )));
        };
        for result in &results {
            let agrees = match (result, &outcome) {
                (Ok(Recorded::Refused(mine)), Recorded::Refused(recorded)) => mine == recorded,
                (Ok(Recorded::Appended(mine)), Recorded::Appended(recorded)) => {
                    mine.as_duplicate() == *recorded
                }
                (Err(StoreError::AlreadyRefused { refusal, .. }), Recorded::Refused(recorded)) => {
                    refusal == recorded
                }
                _ => false,
            };
            ensure!(
                t,
                agrees,
                "round {round}: {result:?} disagrees with the recorded {outcome:?}"
            );
        }
        let grew = store.stream_version(id).await? != version;
        ensure_eq!(
            t,
            grew,
            matches!(outcome, Recorded::Appended(_)),
            "round {round}: the stream grew only if the append won"
        );
    }
    Ok(())
}
