//! `projections`: each consumer's checkpoint, the head of the log, the lag, the parked events.

use std::collections::BTreeMap;

use es_core::Position;
use es_core::process::ProcessStore;
use es_core::store::Inspect;
use serde_json::json;

use crate::output::{Cell, Out, Style, number, text};
use crate::{CliError, Inspector};

/// The arguments of `projections`.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct ProjectionsArgs {
    /// Show only this consumer (a registered projection, or a stored checkpoint's name).
    pub name: Option<String>,
}

/// One consumer as listed.
struct Row {
    checkpoint: Position,
    parked: usize,
    registered: bool,
}

pub(crate) async fn run<S: Inspect + ProcessStore>(
    inspector: &Inspector<S>,
    args: &ProjectionsArgs,
    out: &mut Out,
) -> Result<(), CliError> {
    let head = inspector.store.head().await?;
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for stored in inspector.store.checkpoints().await? {
        let parked = inspector.store.parked_events(&stored.name).await?.len();
        let row = Row {
            checkpoint: stored.position,
            parked,
            registered: false,
        };
        rows.insert(stored.name, row);
    }
    for runner in &inspector.projections {
        let row = Row {
            checkpoint: runner.checkpoint().await?.max(runner.position()),
            parked: runner.parked().await?,
            registered: true,
        };
        rows.insert(runner.name().to_owned(), row);
    }
    if let Some(name) = &args.name {
        rows.retain(|listed, _| listed == name);
        if rows.is_empty() {
            return Err(CliError::NotFound(format!(
                "no projection or checkpoint named {name:?}"
            )));
        }
    }
    let lag = |row: &Row| head.0.saturating_sub(row.checkpoint.0);
    if out.json {
        let listed: Vec<_> = rows
            .iter()
            .map(|(name, row)| {
                json!({
                    "name": name,
                    "checkpoint": row.checkpoint.0,
                    "head": head.0,
                    "lag": lag(row),
                    "parked": row.parked,
                    "registered": row.registered,
                })
            })
            .collect();
        return Ok(out.json(&json!({ "head": head.0, "projections": listed }))?);
    }
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|(name, row)| {
            let lag = lag(row);
            vec![
                Cell::styled(name, Style::Cyan),
                Cell::new(row.checkpoint.0.to_string()),
                Cell::new(head.0.to_string()),
                Cell::styled(
                    lag.to_string(),
                    if lag > 0 { Style::Yellow } else { Style::Plain },
                ),
                Cell::styled(
                    row.parked.to_string(),
                    if row.parked > 0 {
                        Style::Red
                    } else {
                        Style::Plain
                    },
                ),
            ]
        })
        .collect();
    Ok(out.table(
        &[
            text("NAME"),
            number("CHECKPOINT"),
            number("HEAD"),
            number("LAG"),
            number("PARKED"),
        ],
        &cells,
    )?)
}
