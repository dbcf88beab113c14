//! (d) raw appends, on one stream and many, from 1 and from 4 tasks.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use es_bench::baseline::{PlainRepository, PlainStore, Stored};
use es_bench::domain::Deposited;
use es_core::codec::{Encoded, JsonCodec};
use es_core::event::encode_event;
use es_core::{EventStore, ExpectedVersion, NewEvent, StreamId};
use es_memstore::MemStore;

use crate::report::{Row, thousands};
use crate::{BoxResult, Config, check, fastest, repeat};

pub(crate) fn raw_appends(config: &Config) -> BoxResult<Vec<Row>> {
    let appends = config.n(200_000, 1_000) / 4 * 4;
    let rt = tokio::runtime::Builder::new_multi_thread().build()?;
    let encoded: Encoded = encode_event(&JsonCodec, &Deposited { amount: 2 })?;
    let payload = encoded.payload.to_vec();
    let mut rows = Vec::new();
    for (streams, tasks) in [(1u64, 1u64), (10_000, 1), (1, 4), (10_000, 4)] {
        let streams = streams.min(appends);
        let per_task = appends / tasks;
        // Event `i` of task `t` goes to stream `(t * per_task + i) % streams`.
        let stream_of = move |task: u64, i: u64| ((task * per_task + i) % streams) as usize;

        let framework = repeat(config.reps, || {
            let store = MemStore::new();
            let ids: Arc<Vec<StreamId>> = Arc::new(
                (0..streams)
                    .map(|s| StreamId::for_aggregate("account", &s))
                    .collect::<Result<_, _>>()?,
            );
            let batches: Vec<Vec<(usize, Vec<NewEvent>)>> = (0..tasks)
                .map(|t| {
                    (0..per_task)
                        .map(|i| (stream_of(t, i), vec![NewEvent::new(encoded.clone())]))
                        .collect()
                })
                .collect();
            let time = rt.block_on(async {
                let start = Instant::now();
                let handles: Vec<_> = batches
                    .into_iter()
                    .map(|batch| {
                        let (store, ids) = (store.clone(), Arc::clone(&ids));
                        tokio::spawn(async move {
                            for (stream, events) in batch {
                                store
                                    .append(&ids[stream], ExpectedVersion::Any, events)
                                    .await?;
                            }
                            BoxResult::Ok(())
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await??;
                }
                BoxResult::Ok(start.elapsed())
            })?;
            check("(d)", store.len() as u64 == appends)?;
            Ok(time)
        })?;
        let baseline = repeat(config.reps, || {
            let map = Arc::new(Mutex::new(PlainStore::default()));
            let keys: Arc<Vec<String>> =
                Arc::new((0..streams).map(PlainRepository::stream).collect());
            let batches: Vec<Vec<(usize, Stored)>> = (0..tasks)
                .map(|t| {
                    (0..per_task)
                        .map(|i| {
                            let stored = Stored {
                                name: encoded.name,
                                payload: payload.clone(),
                            };
                            (stream_of(t, i), stored)
                        })
                        .collect()
                })
                .collect();
            let time = rt.block_on(async {
                let start = Instant::now();
                let handles: Vec<_> = batches
                    .into_iter()
                    .map(|batch| {
                        let (map, keys) = (Arc::clone(&map), Arc::clone(&keys));
                        tokio::spawn(async move {
                            for (stream, stored) in batch {
                                map.lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .push(&keys[stream], stored);
                            }
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await?;
                }
                BoxResult::Ok(start.elapsed())
            })?;
            let len = map.lock().unwrap_or_else(PoisonError::into_inner).len();
            check("(d) baseline", len as u64 == appends)?;
            Ok(time)
        })?;
        let (fw, bl) = (fastest(framework), fastest(baseline));
        rows.push(Row::rate(
            appends_workload("(d)", appends, streams, tasks, "Mutex<map>"),
            "append",
            appends,
            fw,
            bl,
        ));
    }
    Ok(rows)
}

/// The workload cell of an appends row: `{section} {appends} appends of 1 event, {streams}
/// stream(s), {tasks} task(s) (baseline: {baseline})`.
pub(crate) fn appends_workload(
    section: &str,
    appends: u64,
    streams: u64,
    tasks: u64,
    baseline: &str,
) -> String {
    format!(
        "{section} {} appends of 1 event, {} stream(s), {tasks} task(s) (baseline: {baseline})",
        thousands(appends),
        thousands(streams)
    )
}
