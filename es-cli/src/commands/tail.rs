//! `tail`: follows the global log live.

use es_core::Position;
use es_core::process::ProcessStore;
use es_core::store::Inspect;

use crate::output::{Out, Style, event_json, one_line, payload_value};
use crate::time::rfc3339;
use crate::{CliError, Inspector};

/// The widest payload a line shows; `--json` shows all of it.
const PAYLOAD_WIDTH: usize = 100;

/// The arguments of `tail`.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct TailArgs {
    /// Start after this global position instead of the head of the log (0: from the first
    /// event).
    #[arg(long, value_name = "POSITION")]
    pub after: Option<u64>,
    /// Stop after this many events instead of following until interrupted.
    #[arg(long)]
    pub count: Option<u64>,
}

pub(crate) async fn run<S: Inspect + ProcessStore>(
    inspector: &Inspector<S>,
    args: &TailArgs,
    out: &mut Out,
) -> Result<(), CliError> {
    let after = match args.after {
        Some(position) => Position(position),
        None => inspector.store.head().await?,
    };
    let mut subscription = inspector.store.subscribe(after);
    let mut shown = 0;
    while args.count.is_none_or(|count| shown < count) {
        let event = subscription.next().await?;
        let decoded = inspector.decode(&event);
        if out.json {
            let line = serde_json::to_string(&event_json(&event, decoded))
                .map_err(std::io::Error::other)?;
            out.line(&line)?;
        } else {
            let payload = decoded.unwrap_or_else(|| payload_value(&event.payload).to_string());
            let line = format!(
                "{} {} {}@{} {} {}",
                event.position,
                out.paint(&rfc3339(event.recorded_at, false), Style::Dim),
                event.stream_id,
                event.stream_version,
                out.paint(&event.name, Style::Cyan),
                one_line(&payload, PAYLOAD_WIDTH),
            );
            out.line(&line)?;
        }
        shown += 1;
    }
    Ok(())
}
