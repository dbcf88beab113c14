//! The contract checks of one rule: atomic batches, typed refusals.

use bytes::Bytes;

use crate::envelope::{NewEvent, Version};
use crate::names::check_event_name;
use crate::store::{EventStore, ExpectedVersion, Limit, StoreError, limits};

use super::{Checked, Failure, Tally, batch, event, stream, whole_log};

pub(super) async fn empty_append_is_refused<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    let refused = store.append(&id, ExpectedVersion::Any, Vec::new()).await;
    ensure!(
        t,
        matches!(&refused, Err(StoreError::EmptyAppend { stream_id }) if *stream_id == id),
        "an empty append: {refused:?}"
    );
    ensure_eq!(
        t,
        store.stream_version(&id).await?,
        Version::EMPTY,
        "version after it"
    );
    Ok(())
}

pub(super) async fn invalid_batch_writes_nothing<S: EventStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 1))
        .await?;
    let before = whole_log(store).await?;
    // Names outside the event-name rule, which the derive refuses at compile time: control
    // characters (a C1 one, NEL, among them), non-ASCII, marks outside the five allowed, a
    // mark first.
    let bad_names = [
        "",
        "bad\nname",
        "\u{7}",
        "caf\u{e9}\u{85}",
        "caf\u{e9}",
        "user created",
        "user.created!",
        ".user.created",
        "-user",
    ];
    for bad_name in bad_names {
        let mut events = batch("contract.happened", 1, 3);
        if let Some(last) = events.last_mut() {
            last.name = bad_name.into();
        }
        let refused = store.append(&id, ExpectedVersion::Any, events).await;
        ensure!(
            t,
            matches!(
                &refused,
                Err(StoreError::InvalidEventName { stream_id, name, problem })
                    if *stream_id == id && name == bad_name
                        && Err(*problem) == check_event_name(bad_name)
            ),
            "a batch whose last event is named {bad_name:?}: {refused:?}"
        );
    }
    ensure_eq!(
        t,
        whole_log(store).await?,
        before,
        "the log after refused batches"
    );
    Ok(())
}

pub(super) async fn limits_are_enforced<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    let too_many = u64::try_from(limits::MAX_BATCH_LEN + 1).unwrap_or(u64::MAX);
    let mut big = event("contract.big", 0);
    big.payload = Bytes::from(vec![b' '; limits::MAX_PAYLOAD_LEN + 1]);
    let mut long_name = event("contract.happened", 1);
    long_name.name = "n".repeat(limits::MAX_EVENT_NAME_LEN + 1).into();
    // Payloads of the largest size allowed, as many as fit in a batch, and one byte more.
    let largest = Bytes::from(vec![b' '; limits::MAX_PAYLOAD_LEN]);
    let fit = limits::MAX_BATCH_BYTES / limits::MAX_PAYLOAD_LEN;
    let full_bytes = |extra: &[u8]| {
        let mut events: Vec<NewEvent> = (0..fit)
            .map(|_| {
                let mut e = event("contract.big", 0);
                e.payload = largest.clone();
                e
            })
            .collect();
        let mut last = event("contract.big", 0);
        last.payload = Bytes::copy_from_slice(extra);
        events.push(last);
        events
    };
    let cases = [
        (Limit::BatchLen, batch("contract.happened", 0, too_many)),
        (Limit::PayloadLen, vec![event("contract.happened", 0), big]),
        (
            Limit::EventNameLen,
            vec![event("contract.happened", 0), long_name],
        ),
        (Limit::BatchBytes, full_bytes(b" ")),
    ];
    for (limit, events) in cases {
        let refused = store.append(&id, ExpectedVersion::Any, events).await;
        ensure!(
            t,
            matches!(
                &refused,
                Err(StoreError::LimitExceeded { stream_id, limit: got, .. })
                    if *stream_id == id && *got == limit
            ),
            "an append over the {limit} limit: {:?}",
            refused.map(|_| ())
        );
    }
    ensure!(
        t,
        whole_log(store).await?.is_empty(),
        "nothing written by refused appends"
    );
    // At the limits exactly, appends succeed: payloads of the largest size, as many as the
    // bytes limit allows (the last one empty).
    let at_bytes_limit = full_bytes(b"");
    let count = u64::try_from(at_bytes_limit.len()).unwrap_or(u64::MAX);
    let appended = store
        .append(&id, ExpectedVersion::Any, at_bytes_limit)
        .await?;
    ensure_eq!(
        t,
        appended.stream_version,
        Version(count),
        "version after a batch at the bytes limit"
    );
    let full = u64::try_from(limits::MAX_BATCH_LEN).unwrap_or(u64::MAX);
    let appended = store
        .append(
            &id,
            ExpectedVersion::Any,
            batch("contract.happened", 0, full),
        )
        .await?;
    ensure_eq!(
        t,
        appended.stream_version,
        Version(full + count),
        "version after a full batch"
    );
    Ok(())
}
