//! `processes`: process managers' checkpoints, due timers and parked instances; retries one.

use std::time::{Duration, SystemTime};

use es_core::Position;
use es_core::process::{InstanceRow, ProcessStore, TimerRow};
use es_core::store::Inspect;
use serde_json::{Value, json};

use crate::output::{Cell, Out, Style, number, one_line, text};
use crate::time::rfc3339;
use crate::{CliError, Inspector};

/// The widest error a table shows; `--json` shows all of it.
const ERROR_WIDTH: usize = 80;

/// The arguments of `processes`.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct ProcessesArgs {
    /// The process managers to show, by name. Without names: the registered ones, or, when
    /// none is registered, every stored checkpoint that has timers or parked instances.
    pub names: Vec<String>,
    /// Ask the parked instance with this key (as listed) to handle its waiting inputs
    /// again; needs one process name, of a registered process manager.
    #[arg(long, value_name = "KEY")]
    pub retry: Option<String>,
    /// List at most this many timers per process manager, the earliest first.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// What the store holds of one process manager.
struct Process {
    name: String,
    checkpoint: Option<Position>,
    /// The earliest timers, due or not.
    timers: Vec<TimerRow>,
    next_timer: Option<SystemTime>,
    parked: Vec<InstanceRow>,
}

pub(crate) async fn run<S: Inspect + ProcessStore>(
    inspector: &Inspector<S>,
    args: &ProcessesArgs,
    out: &mut Out,
) -> Result<(), CliError> {
    if let Some(key) = &args.retry {
        return retry(inspector, args, key, out).await;
    }
    let store = &inspector.store;
    let names: Vec<String> = if !args.names.is_empty() {
        args.names.clone()
    } else if !inspector.processes.is_empty() {
        inspector
            .processes
            .iter()
            .map(|p| p.name().to_owned())
            .collect()
    } else {
        let mut names = Vec::new();
        for checkpoint in store.checkpoints().await? {
            if store.next_timer(&checkpoint.name).await?.is_some()
                || !store.parked_instances(&checkpoint.name).await?.is_empty()
            {
                names.push(checkpoint.name);
            }
        }
        names
    };
    let head = store.head().await?;
    let now = SystemTime::now();
    // Every timer is due by then: `due_timers` at that time lists them all, earliest first.
    let end_of_time = now
        .checked_add(Duration::from_secs(1000 * 365 * 86_400))
        .unwrap_or(now);
    let mut processes = Vec::with_capacity(names.len());
    for name in names {
        let process = Process {
            checkpoint: store.load_checkpoint(&name).await?,
            timers: store.due_timers(&name, end_of_time, args.limit).await?,
            next_timer: store.next_timer(&name).await?,
            parked: store.parked_instances(&name).await?,
            name,
        };
        let registered = inspector.processes.iter().any(|p| p.name() == process.name);
        if process.checkpoint.is_none()
            && !registered
            && process.next_timer.is_none()
            && process.parked.is_empty()
        {
            return Err(CliError::NotFound(format!(
                "no process manager named {:?} in the store",
                process.name
            )));
        }
        processes.push(process);
    }
    let due_count = |process: &Process| process.timers.iter().filter(|t| t.due <= now).count();
    let lag = |process: &Process| {
        head.0
            .saturating_sub(process.checkpoint.unwrap_or(Position::START).0)
    };
    if out.json {
        let listed: Vec<Value> = processes
            .iter()
            .map(|process| {
                let timers: Vec<Value> = process
                    .timers
                    .iter()
                    .map(|timer| {
                        json!({
                            "key": timer.key,
                            "timer": timer.name,
                            "at": rfc3339(timer.due, true),
                            "due": timer.due <= now,
                        })
                    })
                    .collect();
                let parked: Vec<Value> = process
                    .parked
                    .iter()
                    .filter_map(|row| {
                        let record = row.parked.as_ref()?;
                        Some(json!({
                            "key": row.key,
                            "error": record.error,
                            "since": rfc3339(record.since, true),
                            "retry_asked": record.retry,
                        }))
                    })
                    .collect();
                json!({
                    "name": process.name,
                    "checkpoint": process.checkpoint.unwrap_or(Position::START).0,
                    "head": head.0,
                    "lag": lag(process),
                    "timers": timers,
                    "due_timers": due_count(process),
                    "next_timer": process.next_timer.map(|at| rfc3339(at, true)),
                    "parked": parked,
                })
            })
            .collect();
        return Ok(out.json(&json!({ "processes": listed }))?);
    }
    let rows: Vec<Vec<Cell>> = processes
        .iter()
        .map(|process| {
            vec![
                Cell::styled(&process.name, Style::Cyan),
                Cell::new(process.checkpoint.unwrap_or(Position::START).0.to_string()),
                Cell::new(lag(process).to_string()),
                Cell::new(process.timers.len().to_string()),
                Cell::new(due_count(process).to_string()),
                Cell::styled(
                    process
                        .next_timer
                        .map_or_else(|| "-".to_owned(), |at| rfc3339(at, false)),
                    Style::Dim,
                ),
                Cell::styled(
                    process.parked.len().to_string(),
                    if process.parked.is_empty() {
                        Style::Plain
                    } else {
                        Style::Red
                    },
                ),
            ]
        })
        .collect();
    out.table(
        &[
            text("PROCESS"),
            number("CHECKPOINT"),
            number("LAG"),
            number("TIMERS"),
            number("DUE"),
            text("NEXT TIMER"),
            number("PARKED"),
        ],
        &rows,
    )?;
    let timers: Vec<Vec<Cell>> = processes
        .iter()
        .flat_map(|process| process.timers.iter().map(move |timer| (process, timer)))
        .map(|(process, timer)| {
            let due = timer.due <= now;
            vec![
                Cell::new(&process.name),
                Cell::new(&timer.key),
                Cell::new(&timer.name),
                Cell::styled(
                    rfc3339(timer.due, false),
                    if due { Style::Yellow } else { Style::Dim },
                ),
                Cell::new(if due { "due" } else { "-" }),
            ]
        })
        .collect();
    if !timers.is_empty() {
        out.line("")?;
        out.table(
            &[
                text("PROCESS"),
                text("KEY"),
                text("TIMER"),
                text("AT"),
                text("DUE"),
            ],
            &timers,
        )?;
    }
    let parked: Vec<Vec<Cell>> = processes
        .iter()
        .flat_map(|process| process.parked.iter().map(move |row| (process, row)))
        .filter_map(|(process, row)| {
            let record = row.parked.as_ref()?;
            Some(vec![
                Cell::new(&process.name),
                Cell::new(&row.key),
                Cell::styled(rfc3339(record.since, false), Style::Dim),
                Cell::new(if record.retry { "asked" } else { "-" }),
                Cell::styled(one_line(&record.error, ERROR_WIDTH), Style::Red),
            ])
        })
        .collect();
    if !parked.is_empty() {
        out.line("")?;
        out.table(
            &[
                text("PROCESS"),
                text("KEY"),
                text("PARKED SINCE"),
                text("RETRY"),
                text("ERROR"),
            ],
            &parked,
        )?;
    }
    Ok(())
}

/// `processes NAME --retry KEY`.
async fn retry<S: Inspect + ProcessStore>(
    inspector: &Inspector<S>,
    args: &ProcessesArgs,
    key: &str,
    out: &mut Out,
) -> Result<(), CliError> {
    let [name] = args.names.as_slice() else {
        return Err(CliError::Usage(
            "--retry needs exactly one process name: processes NAME --retry KEY".to_owned(),
        ));
    };
    let Some(process) = inspector.processes.iter().find(|p| p.name() == name) else {
        return Err(CliError::NotFound(format!(
            "no registered process manager named {name:?} (a retry needs its types, \
             registered on es_cli::Inspector in the application's binary)"
        )));
    };
    if !process.retry(key).await? {
        return Err(CliError::NotFound(format!(
            "process {name} has no parked instance {key}"
        )));
    }
    if out.json {
        return Ok(out.json(&json!({ "process": name, "key": key, "retry_asked": true }))?);
    }
    Ok(out.line(&format!(
        "asked process {name} to retry instance {key}: a runner handles its inputs at its next step"
    ))?)
}
