//! `rebuild NAME`: empties a registered read model and processes the whole log again, with
//! progress.

use std::pin::pin;
use std::time::Duration;

use es_core::process::ProcessStore;
use es_core::store::Inspect;
use serde_json::json;
use tokio::time::{MissedTickBehavior, interval};

use crate::output::Out;
use crate::progress::{Progress, TICK, rate};
use crate::{CliError, Inspector};

/// The arguments of `rebuild`.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct RebuildArgs {
    /// The projection, by its name (as `projections` lists it).
    pub name: String,
    /// When the output is not a terminal: write a progress line at least this often, in
    /// seconds (and at each tenth of the way).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub every: f64,
}

pub(crate) async fn run<S: Inspect + ProcessStore>(
    inspector: &Inspector<S>,
    args: &RebuildArgs,
    out: &mut Out,
) -> Result<(), CliError> {
    let Some(runner) = inspector.projections.iter().find(|p| p.name() == args.name) else {
        let registered: Vec<&str> = inspector.projections.iter().map(|p| p.name()).collect();
        let registered = if registered.is_empty() {
            "none: rebuild needs the projection's types, registered on es_cli::Inspector in \
             the application's binary"
                .to_owned()
        } else {
            registered.join(", ")
        };
        return Err(CliError::NotFound(format!(
            "no registered projection named {:?} (registered: {registered})",
            args.name
        )));
    };
    let head = inspector.store.head().await?.0;
    let every = Duration::try_from_secs_f64(args.every)
        .map_err(|error| CliError::Usage(format!("--every {}: {error}", args.every)))?;
    let mut progress = Progress::new(runner.name(), head, every);
    let mut rebuild = pin!(runner.rebuild());
    let mut ticks = interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let reached = loop {
        tokio::select! {
            done = &mut rebuild => break done?,
            _ = ticks.tick() => {
                if !out.json {
                    progress.update(runner.position().0, out)?;
                }
            }
        }
    };
    if out.json {
        let seconds = progress.elapsed().as_secs_f64();
        let document = json!({
            "projection": runner.name(),
            "position": reached.0,
            "head": head,
            "seconds": seconds,
            "events_per_second": rate(reached.0, seconds),
        });
        return Ok(out.json(&document)?);
    }
    Ok(progress.finish(reached.0, out)?)
}
