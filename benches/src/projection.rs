//! (e) a projection catching up over the log.

use std::time::Instant;

use es_bench::baseline::{Stored, fold_ledger, wire_name};
use es_bench::domain::Ledger;
use es_core::{EventStore, Position, ProjectionRunner};
use tokio::runtime::Runtime;

use crate::report::{Row, thousands};
use crate::{BoxResult, Config, check, fastest, filled_store, repeat};

pub(crate) fn rows(config: &Config, rt: &Runtime) -> BoxResult<Vec<Row>> {
    let per = 100;
    let accounts = config.n(1_000_000, 10_000) / per;
    let events = accounts * per;
    let store = filled_store(rt, accounts, per)?;
    // The baseline's log: the same JSON payloads, in the same order.
    let log: Vec<Stored> = rt.block_on(async {
        let mut log = Vec::with_capacity(events as usize);
        let mut after = Position::START;
        loop {
            let batch = store.read_all(after, 10_000).await?;
            let Some(last) = batch.last() else { break };
            after = last.position;
            for event in &batch {
                log.push(Stored {
                    name: wire_name(&event.name).ok_or("unknown event name")?,
                    payload: event.payload.to_vec(),
                });
            }
        }
        BoxResult::Ok(log)
    })?;
    check("(e) log", log.len() as u64 == events)?;

    let framework = repeat(config.reps, || {
        let runner = ProjectionRunner::new(store.clone(), Ledger::default());
        let start = Instant::now();
        let reached = rt.block_on(runner.catch_up())?;
        let time = start.elapsed();
        check("(e)", reached == Position(events))?;
        let ledger = runner.read().clone();
        Ok((time, ledger))
    })?;
    let baseline = repeat(config.reps, || {
        let start = Instant::now();
        let mut ledger = Ledger::default();
        for event in &log {
            fold_ledger(&mut ledger, event.name, &event.payload)?;
        }
        Ok((start.elapsed(), ledger))
    })?;
    check(
        "(e) ledger",
        framework
            .iter()
            .chain(&baseline)
            .all(|(_, ledger)| *ledger == baseline[0].1)
            && baseline[0].1.events == events,
    )?;
    let fw = fastest(framework.iter().map(|(time, _)| *time));
    let bl = fastest(baseline.iter().map(|(time, _)| *time));
    Ok(vec![Row::rate(
        format!(
            "(e) ProjectionRunner::catch_up over {} events (baseline: decode+fold by hand)",
            thousands(events)
        ),
        "event",
        events,
        fw,
        bl,
    )])
}
