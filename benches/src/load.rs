//! (c) loading a long stream, with and without a snapshot.

use std::time::Duration;

use es_bench::Step;
use es_bench::baseline::{PlainRepository, PlainStore, Stored, wire_name};
use es_bench::domain::Account;
use es_core::snapshot::SnapshotStore;
use es_core::{EventStore, Repository, StreamId, Version};
use es_memstore::MemStore;
use tokio::runtime::Runtime;

use crate::report::{Row, Verdict, thousands};
use crate::{
    BoxResult, Config, check, expected_account, fastest, per_call, per_call_async, progress, repeat,
};

/// Copies the streams of `accounts` from `store` into a baseline store: the same JSON.
async fn copy_streams(store: &MemStore, accounts: &[u64], into: &mut PlainStore) -> BoxResult<()> {
    for &account in accounts {
        let stream = StreamId::for_aggregate("account", &account)?;
        let key = PlainRepository::stream(account);
        let mut from = Version(1);
        loop {
            let batch = store.read_stream(&stream, from, 10_000).await?;
            for event in &batch {
                let name = wire_name(&event.name).ok_or("unknown event name")?;
                into.push(
                    &key,
                    Stored {
                        name,
                        payload: event.payload.to_vec(),
                    },
                );
                from = event.stream_version.next();
            }
            if batch.len() < 10_000 {
                break;
            }
        }
    }
    Ok(())
}

pub(crate) fn long_stream(config: &Config, rt: &Runtime) -> BoxResult<Vec<Row>> {
    let long = config.n(100_000, 1_000) / 100 * 100;
    let short = 100;
    // `big` has a snapshot at its last event; `tail` the same snapshot version and the
    // longest tail the policy allows (99 events after it).
    let (big, small, tail) = (1, 2, 3);
    let tail_events = long + 99;
    let min_time = config.min_time();

    // The framework's store: the long stream written with snapshots every 100 events (the
    // last at `long`), the short one without snapshots.
    let store = MemStore::new();
    let snapshotted = Repository::<Account, _>::new(store.clone())
        .with_snapshots(store.clone())
        .with_snapshot_every(100);
    let plain = Repository::<Account, _>::new(store.clone());
    rt.block_on(async {
        for i in 0..long {
            snapshotted.execute(Step::nth(i).command(big)).await?;
        }
        for i in 0..short {
            plain.execute(Step::nth(i).command(small)).await?;
        }
        for i in 0..tail_events {
            snapshotted.execute(Step::nth(i).command(tail)).await?;
        }
        BoxResult::Ok(())
    })?;
    let snapshot_of = |account: u64| -> BoxResult<Vec<u8>> {
        let stream = snapshotted.stream_id(&account)?;
        let snapshot = rt
            .block_on(store.load_snapshot(&stream))?
            .ok_or("no snapshot was taken")?;
        if snapshot.version != Version(long) {
            return Err(format!("the snapshot is at {}, not {long}", snapshot.version).into());
        }
        Ok(snapshot.payload.to_vec())
    };

    // The baseline: the same events and the same snapshot JSON, copied.
    let mut baseline = PlainRepository::new().with_snapshots(100);
    rt.block_on(copy_streams(
        &store,
        &[big, small, tail],
        &mut baseline.store,
    ))?;
    for account in [big, tail] {
        baseline.put_snapshot(
            &PlainRepository::stream(account),
            long,
            snapshot_of(account)?,
        );
    }
    let replay_by_hand = |account: u64| -> BoxResult<Account> {
        let mut state = Account::default();
        baseline
            .store
            .fold(&PlainRepository::stream(account), &mut state, 0)?;
        Ok(state)
    };
    let expected_big = expected_account(long);
    let expected_small = expected_account(short);
    let expected_tail = expected_account(tail_events);

    let measure = |what: &str,
                   framework: &dyn Fn() -> BoxResult<Duration>,
                   baseline: &dyn Fn() -> BoxResult<Duration>|
     -> BoxResult<(Duration, Duration)> {
        progress(what);
        let fw = fastest(repeat(config.reps, framework)?);
        let bl = fastest(repeat(config.reps, baseline)?);
        Ok((fw, bl))
    };

    // Loading the long stream with its snapshot.
    let with_snapshot = measure(
        "(c) with snapshot",
        &|| {
            rt.block_on(per_call_async(min_time, async || {
                let loaded = snapshotted.load(&big).await?;
                check("(c) snapshot", loaded.state == expected_big)
            }))
        },
        &|| {
            per_call(min_time, || {
                let (state, _) = baseline.load(big)?;
                check("(c) baseline snapshot", state == expected_big)
            })
        },
    )?;
    // The same with the longest tail after the snapshot.
    let with_tail = measure(
        "(c) with snapshot and tail",
        &|| {
            rt.block_on(per_call_async(min_time, async || {
                let loaded = snapshotted.load(&tail).await?;
                check("(c) snapshot + tail", loaded.state == expected_tail)
            }))
        },
        &|| {
            per_call(min_time, || {
                let (state, _) = baseline.load(tail)?;
                check("(c) baseline snapshot + tail", state == expected_tail)
            })
        },
    )?;
    // Replaying the long stream.
    let replay = measure(
        "(c) replay",
        &|| {
            rt.block_on(per_call_async(min_time, async || {
                let loaded = plain.load(&big).await?;
                check("(c) replay", loaded.state == expected_big)
            }))
        },
        &|| {
            per_call(min_time, || {
                check("(c) baseline replay", replay_by_hand(big)? == expected_big)
            })
        },
    )?;
    // Replaying the short stream: the reference of the snapshot goal.
    let short_replay = measure(
        "(c) short replay",
        &|| {
            rt.block_on(per_call_async(min_time, async || {
                let loaded = plain.load(&small).await?;
                check("(c) short", loaded.state == expected_small)
            }))
        },
        &|| {
            per_call(min_time, || {
                check(
                    "(c) baseline short",
                    replay_by_hand(small)? == expected_small,
                )
            })
        },
    )?;

    let cost = with_snapshot.0.as_secs_f64() / short_replay.0.as_secs_f64();
    let tail_cost = with_tail.0.as_secs_f64() / short_replay.0.as_secs_f64();
    let replay_ratio = Row::throughput_ratio(replay.0, replay.1);
    Ok(vec![
        Row::rate(
            format!(
                "(c) load 1 aggregate of {} events, snapshot at {}",
                thousands(long),
                thousands(long)
            ),
            "load",
            1,
            with_snapshot.0,
            with_snapshot.1,
        )
        .goal(
            format!("{cost:.2}x the cost of a 100-event load (<= 2x)"),
            Verdict::of(cost <= 2.0),
        ),
        Row::rate(
            format!(
                "(c) load 1 aggregate of {} events, snapshot at {} + 99-event tail",
                thousands(tail_events),
                thousands(long)
            ),
            "load",
            1,
            with_tail.0,
            with_tail.1,
        )
        .goal(
            format!("{tail_cost:.2}x the cost of a 100-event load (<= 2x)"),
            Verdict::of(tail_cost <= 2.0),
        ),
        Row::rate(
            format!(
                "(c) load 1 aggregate of {} events, no snapshot (replay)",
                thousands(long)
            ),
            "event",
            long,
            replay.0,
            replay.1,
        )
        .goal(
            format!("{replay_ratio:.2}x baseline decode+fold (>= 0.7x)"),
            Verdict::of(replay_ratio >= 0.7),
        ),
        Row::rate(
            format!("(c) reference: load 1 aggregate of {short} events, no snapshot"),
            "load",
            1,
            short_replay.0,
            short_replay.1,
        ),
    ])
}
