//! The contract checks of one rule: a store lists what it holds, its streams page by page in
//! byte order of their ids, the head of its log and its checkpoints.

use bytes::Bytes;
use uuid::Uuid;

use crate::envelope::{Position, StreamId, Version};
use crate::store::{CheckpointInfo, ExpectedVersion, Inspect, StreamInfo};

use super::{Checked, Failure, Tally, batch, stream, whole_log};

/// Every listed stream, read in pages of `limit` from the start.
async fn all_pages<S: Inspect>(
    store: &S,
    limit: usize,
    t: &mut Tally,
) -> Result<Vec<StreamInfo>, Failure> {
    let mut listed: Vec<StreamInfo> = Vec::new();
    loop {
        let after = listed.last().map(|info| info.id.clone());
        let page = store.streams(after.as_ref(), limit).await?;
        ensure!(
            t,
            page.len() <= limit,
            "a page of limit {limit} holds {} streams",
            page.len()
        );
        if page.is_empty() {
            return Ok(listed);
        }
        // Guards against a store that ignores `after` and so never runs out of pages.
        ensure!(
            t,
            listed.len() < 1000,
            "more pages than the store holds streams (after {after:?})"
        );
        listed.extend(page);
    }
}

fn ids(infos: &[StreamInfo]) -> Vec<String> {
    infos
        .iter()
        .map(|info| info.id.as_str().to_owned())
        .collect()
}

pub(super) async fn inspecting_an_empty_store<S: Inspect>(store: &S, t: &mut Tally) -> Checked {
    ensure_eq!(
        t,
        store.streams(None, 10).await?,
        Vec::new(),
        "no stream in an empty store"
    );
    ensure_eq!(
        t,
        store.head().await?,
        Position::START,
        "the head of an empty log"
    );
    ensure_eq!(
        t,
        store.checkpoints().await?,
        Vec::new(),
        "no checkpoint in an empty store"
    );
    // A refusal records a command id on a stream but writes no event: still no stream.
    let refused = stream("order-1")?;
    store
        .refuse(
            &refused,
            ExpectedVersion::NoStream,
            Uuid::now_v7(),
            Bytes::from_static(b"\"out of stock\""),
        )
        .await?;
    ensure_eq!(
        t,
        store.streams(None, 10).await?,
        Vec::new(),
        "a stream with a refusal and no event is not listed"
    );
    ensure_eq!(
        t,
        store.head().await?,
        Position::START,
        "the head after a refusal"
    );
    Ok(())
}

pub(super) async fn streams_are_listed_in_byte_order_by_page<S: Inspect>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    // Byte order differs from a locale's: capitals before small letters, `_` between them,
    // `alpha-10` before `alpha-2`, a non-ASCII letter after every ASCII one.
    let names = [
        "beta-1",
        "alpha-2",
        "Zulu-1",
        "alpha-10",
        "\u{e9}t\u{e9}-1",
        "_x",
        "alpha-1",
        "Alpha-3",
        "beta-1a",
    ];
    for (n, name) in (0u64..).zip(names) {
        let id = stream(name)?;
        store
            .append(
                &id,
                ExpectedVersion::NoStream,
                batch("inspect.listed", n, 1),
            )
            .await?;
    }
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort_unstable();
    let everything = store.streams(None, 100).await?;
    ensure_eq!(
        t,
        ids(&everything),
        expected,
        "every stream, in byte order of its id, with a limit larger than what exists"
    );
    for limit in [1, 2, 4] {
        let paged = all_pages(store, limit, t).await?;
        ensure_eq!(
            t,
            ids(&paged),
            expected,
            "every stream, read in pages of {limit}"
        );
        ensure_eq!(
            t,
            paged,
            everything,
            "the same streams in pages of {limit} as in one"
        );
    }
    ensure_eq!(
        t,
        store.streams(None, 0).await?,
        Vec::new(),
        "a page of limit 0"
    );
    ensure_eq!(
        t,
        ids(&store.streams(None, 1).await?),
        vec!["Alpha-3"],
        "the first page of limit 1"
    );
    // An `after` that is not a stream: the page starts at the next id that is.
    let cases: [(&str, &[&str]); 5] = [
        ("alpha-15", &["alpha-2", "beta-1"]),
        ("alpha-1", &["alpha-10", "alpha-2"]),
        ("B", &["Zulu-1", "_x"]),
        ("a", &["alpha-1", "alpha-10"]),
        ("\u{e9}t\u{e9}-1", &[]),
    ];
    for (after, want) in cases {
        let after_id = stream(after)?;
        ensure_eq!(
            t,
            ids(&store.streams(Some(&after_id), 2).await?),
            want.to_vec(),
            "two streams after {after:?}"
        );
    }
    let past_the_end = stream("\u{10ffff}")?;
    ensure_eq!(
        t,
        store.streams(Some(&past_the_end), 5).await?,
        Vec::new(),
        "nothing after the last id"
    );
    Ok(())
}

pub(super) async fn streams_show_their_last_event_and_head_the_log<S: Inspect>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let (a, b, c) = (stream("cart-a")?, stream("cart-b")?, stream("cart-c")?);
    // Interleaved, so a stream's last event is not the log's last nor its own first.
    let appends: [(&StreamId, u64); 6] = [(&a, 2), (&b, 1), (&a, 1), (&c, 3), (&b, 2), (&a, 1)];
    for (n, (id, len)) in (0u64..).zip(appends) {
        store
            .append(
                id,
                ExpectedVersion::Any,
                batch("inspect.added", n * 10, len),
            )
            .await?;
    }
    let log = whole_log(store).await?;
    let Some(last) = log.last() else {
        return Err(Failure("the log is empty after six appends".to_owned()));
    };
    ensure_eq!(
        t,
        store.head().await?,
        last.position,
        "the head is the last position read_all returns"
    );
    let listed = store.streams(None, 10).await?;
    let mut expected = Vec::new();
    for id in [&a, &b, &c] {
        let events = store.read_stream(id, Version(1), 100).await?;
        let Some(newest) = events.last() else {
            return Err(Failure(format!("stream {id} reads empty after appends")));
        };
        ensure_eq!(
            t,
            store.stream_version(id).await?,
            newest.stream_version,
            "the version of {id}"
        );
        expected.push(StreamInfo::new(
            id.clone(),
            newest.stream_version,
            newest.position,
            newest.recorded_at,
        ));
    }
    ensure_eq!(
        t,
        listed,
        expected,
        "each stream's version, last position and last recording time, as read_stream reads its last event"
    );
    ensure_eq!(
        t,
        listed.iter().map(|info| info.version.0).collect::<Vec<_>>(),
        vec![4, 3, 3],
        "each stream's version counts its events"
    );

    // Another append moves the head and its stream's entry, and only those.
    let appended = store
        .append(
            &b,
            ExpectedVersion::Exact(Version(3)),
            batch("inspect.added", 99, 2),
        )
        .await?;
    ensure_eq!(
        t,
        store.head().await?,
        appended.last_position,
        "the head after another append"
    );
    let after_b = store.streams(Some(&a), 1).await?;
    let newest = store.read_stream(&b, Version(5), 10).await?;
    let recorded_at = newest
        .last()
        .map(|event| event.recorded_at)
        .ok_or_else(|| Failure(format!("stream {b} lost its last event")))?;
    ensure_eq!(
        t,
        after_b,
        vec![StreamInfo::new(
            b.clone(),
            Version(5),
            appended.last_position,
            recorded_at
        )],
        "the appended stream's entry"
    );
    let first = store.streams(None, 1).await?;
    ensure_eq!(
        t,
        first,
        expected[..1].to_vec(),
        "another stream's entry is unchanged"
    );
    Ok(())
}

pub(super) async fn checkpoints_are_listed_in_name_order<S: Inspect>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let saved = [
        ("totals", 9),
        ("directory#1/4", 4),
        ("directory#0/4", 3),
        ("directory", 7),
        ("Zeta", 1),
        ("directory#10/16", 2),
        ("directory_v2", 6),
        ("directory#2/4", 0),
    ];
    for (name, position) in saved {
        store.save_checkpoint(name, Position(position)).await?;
    }
    store.save_checkpoint("totals", Position(11)).await?;
    let mut expected: Vec<CheckpointInfo> = saved
        .iter()
        .map(|&(name, position)| {
            let position = if name == "totals" { 11 } else { position };
            CheckpointInfo::new(name, Position(position))
        })
        .collect();
    expected.sort_unstable_by(|x, y| x.name.cmp(&y.name));
    ensure_eq!(
        t,
        store.checkpoints().await?,
        expected,
        "every checkpoint in byte order of its name, at its last saved position"
    );
    // Deleting a consumer's checkpoint forgets its partitions' too.
    store.delete_checkpoint("directory").await?;
    expected.retain(|info| info.name != "directory" && !info.name.starts_with("directory#"));
    ensure_eq!(
        t,
        expected
            .iter()
            .map(|info| info.name.as_str())
            .collect::<Vec<_>>(),
        vec!["Zeta", "directory_v2", "totals"],
        "the suite's own expectation"
    );
    ensure_eq!(
        t,
        store.checkpoints().await?,
        expected,
        "deleted checkpoints are gone"
    );
    Ok(())
}
