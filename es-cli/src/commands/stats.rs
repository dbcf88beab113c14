//! `stats`: counts of events by name, by aggregate and by time.

use std::collections::{BTreeMap, HashSet};

use es_core::Position;
use es_core::process::ProcessStore;
use es_core::store::Inspect;
use serde_json::json;

use crate::output::{Cell, Out, Style, number, text};
use crate::time::day_and_hour;
use crate::{CliError, Inspector};

/// How many events `stats` reads per round trip.
const READ_BATCH: usize = 4096;

/// The periods `stats` counts events by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum Period {
    /// By hour (UTC).
    Hour,
    /// By day (UTC).
    Day,
}

/// The arguments of `stats`.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct StatsArgs {
    /// Count events by hour or by day of their recording (UTC).
    #[arg(long, value_enum, default_value_t = Period::Day)]
    pub by: Period,
}

/// The counts, as one pass over the log gathers them.
#[derive(Default)]
struct Counts {
    events: u64,
    by_name: BTreeMap<String, u64>,
    /// Per aggregate: events, and the streams seen.
    by_aggregate: BTreeMap<String, (u64, HashSet<String>)>,
    by_period: BTreeMap<String, u64>,
}

/// The aggregate (category) of a stream: its id up to the first `-` (`account-7` gives
/// `account`), or the whole id when it has none.
fn category(stream: &str) -> &str {
    stream
        .split_once('-')
        .map_or(stream, |(category, _)| category)
}

pub(crate) async fn run<S: Inspect + ProcessStore>(
    inspector: &Inspector<S>,
    args: &StatsArgs,
    out: &mut Out,
) -> Result<(), CliError> {
    let mut counts = Counts::default();
    let mut after = Position::START;
    loop {
        let events = inspector.store.read_all(after, READ_BATCH).await?;
        let Some(last) = events.last() else { break };
        after = last.position;
        for event in &events {
            counts.events += 1;
            *counts.by_name.entry(event.name.to_string()).or_default() += 1;
            let aggregate = category(event.stream_id.as_str());
            let entry = counts.by_aggregate.entry(aggregate.to_owned()).or_default();
            entry.0 += 1;
            if !entry.1.contains(event.stream_id.as_str()) {
                entry.1.insert(event.stream_id.to_string());
            }
            let (day, hour) = day_and_hour(event.recorded_at);
            let period = match args.by {
                Period::Hour => hour,
                Period::Day => day,
            };
            *counts.by_period.entry(period).or_default() += 1;
        }
    }
    let streams: usize = counts.by_aggregate.values().map(|(_, set)| set.len()).sum();
    if out.json {
        let by_event: Vec<_> = counts
            .by_name
            .iter()
            .map(|(name, count)| json!({ "name": name, "events": count }))
            .collect();
        let by_aggregate: Vec<_> = counts
            .by_aggregate
            .iter()
            .map(|(aggregate, (events, streams))| {
                json!({ "aggregate": aggregate, "streams": streams.len(), "events": events })
            })
            .collect();
        let by_time: Vec<_> = counts
            .by_period
            .iter()
            .map(|(period, count)| json!({ "period": period, "events": count }))
            .collect();
        let document = json!({
            "events": counts.events,
            "streams": streams,
            "by_event": by_event,
            "by_aggregate": by_aggregate,
            "by_time": by_time,
        });
        return Ok(out.json(&document)?);
    }
    out.line(&format!("{} events in {streams} streams", counts.events))?;
    out.line("")?;
    let rows: Vec<Vec<Cell>> = counts
        .by_name
        .iter()
        .map(|(name, count)| {
            vec![
                Cell::styled(name, Style::Cyan),
                Cell::new(count.to_string()),
            ]
        })
        .collect();
    out.table(&[text("EVENT"), number("EVENTS")], &rows)?;
    out.line("")?;
    let rows: Vec<Vec<Cell>> = counts
        .by_aggregate
        .iter()
        .map(|(aggregate, (events, streams))| {
            vec![
                Cell::styled(aggregate, Style::Cyan),
                Cell::new(streams.len().to_string()),
                Cell::new(events.to_string()),
            ]
        })
        .collect();
    out.table(
        &[text("AGGREGATE"), number("STREAMS"), number("EVENTS")],
        &rows,
    )?;
    out.line("")?;
    let title = match args.by {
        Period::Hour => "HOUR (UTC)",
        Period::Day => "DAY (UTC)",
    };
    let rows: Vec<Vec<Cell>> = counts
        .by_period
        .iter()
        .map(|(period, count)| vec![Cell::new(period), Cell::new(count.to_string())])
        .collect();
    Ok(out.table(&[text(title), number("EVENTS")], &rows)?)
}

#[cfg(test)]
mod tests {
    use super::category;

    #[test]
    fn the_category_is_the_id_up_to_the_first_dash() {
        assert_eq!(category("account-7"), "account");
        assert_eq!(category("transfer-0190a1b2-c3d4"), "transfer");
        assert_eq!(category("ledger"), "ledger");
    }
}
