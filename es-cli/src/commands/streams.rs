//! `streams`: the streams, with their versions and last write.

use es_core::process::ProcessStore;
use es_core::store::Inspect;
use serde_json::json;

use crate::commands::stream_id;
use crate::output::{Cell, Out, Style, number, text};
use crate::time::rfc3339;
use crate::{CliError, Inspector};

/// The arguments of `streams`.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct StreamsArgs {
    /// List at most this many streams.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Start after this stream id (in byte order): the last one of the previous page.
    #[arg(long, value_name = "STREAM")]
    pub after: Option<String>,
}

pub(crate) async fn run<S: Inspect + ProcessStore>(
    inspector: &Inspector<S>,
    args: &StreamsArgs,
    out: &mut Out,
) -> Result<(), CliError> {
    let after = args.after.as_deref().map(stream_id).transpose()?;
    let mut streams = inspector
        .store
        .streams(after.as_ref(), args.limit.saturating_add(1))
        .await?;
    let more = streams.len() > args.limit;
    streams.truncate(args.limit);
    if out.json {
        let listed: Vec<_> = streams
            .iter()
            .map(|stream| {
                json!({
                    "stream": stream.id.as_str(),
                    "version": stream.version.0,
                    "last_position": stream.last_position.0,
                    "last_write": rfc3339(stream.last_recorded_at, true),
                })
            })
            .collect();
        return Ok(out.json(&json!({ "streams": listed, "more": more }))?);
    }
    let rows: Vec<Vec<Cell>> = streams
        .iter()
        .map(|stream| {
            vec![
                Cell::styled(stream.id.as_str(), Style::Cyan),
                Cell::new(stream.version.0.to_string()),
                Cell::new(stream.last_position.0.to_string()),
                Cell::styled(rfc3339(stream.last_recorded_at, false), Style::Dim),
            ]
        })
        .collect();
    out.table(
        &[
            text("STREAM"),
            number("VERSION"),
            number("LAST POSITION"),
            text("LAST WRITE"),
        ],
        &rows,
    )?;
    if more {
        let last = streams.last().map_or("", |stream| stream.id.as_str());
        out.line(&format!("(more: --after {last})"))?;
    }
    Ok(())
}
