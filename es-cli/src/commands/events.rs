//! `events STREAM`: the events of one stream, decoded or raw.

use es_core::Version;
use es_core::process::ProcessStore;
use es_core::store::Inspect;
use serde_json::json;

use crate::commands::stream_id;
use crate::output::{Cell, Out, Style, event_json, number, one_line, payload_value, text};
use crate::time::rfc3339;
use crate::{CliError, Inspector};

/// The widest payload a table shows; `--json` shows all of it.
const PAYLOAD_WIDTH: usize = 100;

/// The arguments of `events`.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct EventsArgs {
    /// The stream, such as `account-7`.
    pub stream: String,
    /// Start at this stream version (1 is the first event).
    #[arg(long, default_value_t = 1)]
    pub from: u64,
    /// Show at most this many events.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// Show payloads as stored (JSON) even when their type is registered.
    #[arg(long)]
    pub raw: bool,
}

pub(crate) async fn run<S: Inspect + ProcessStore>(
    inspector: &Inspector<S>,
    args: &EventsArgs,
    out: &mut Out,
) -> Result<(), CliError> {
    let stream = stream_id(&args.stream)?;
    let version = inspector.store.stream_version(&stream).await?;
    if version == Version::EMPTY {
        return Err(CliError::NotFound(format!("no stream {stream}")));
    }
    let events = inspector
        .store
        .read_stream(&stream, Version(args.from), args.limit)
        .await?;
    let decode = |event| {
        if args.raw {
            None
        } else {
            inspector.decode(event)
        }
    };
    if out.json {
        let listed: Vec<_> = events
            .iter()
            .map(|event| event_json(event, decode(event)))
            .collect();
        let document = json!({ "stream": stream.as_str(), "version": version.0, "events": listed });
        return Ok(out.json(&document)?);
    }
    let rows: Vec<Vec<Cell>> = events
        .iter()
        .map(|event| {
            let payload =
                decode(event).unwrap_or_else(|| payload_value(&event.payload).to_string());
            vec![
                Cell::new(event.stream_version.0.to_string()),
                Cell::new(event.position.0.to_string()),
                Cell::styled(rfc3339(event.recorded_at, false), Style::Dim),
                Cell::styled(
                    format!("{} v{}", event.name, event.schema_version),
                    Style::Cyan,
                ),
                Cell::new(one_line(&payload, PAYLOAD_WIDTH)),
            ]
        })
        .collect();
    Ok(out.table(
        &[
            number("VERSION"),
            number("POSITION"),
            text("RECORDED"),
            text("EVENT"),
            text("PAYLOAD"),
        ],
        &rows,
    )?)
}
