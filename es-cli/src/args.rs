//! [`InspectArgs`]: the inspector's command line, to parse alone or nest in an application's.

use crate::commands::{
    CatalogArgs, EventsArgs, ProcessesArgs, ProjectionsArgs, RebuildArgs, StatsArgs, StreamsArgs,
    TailArgs,
};

/// The inspector's arguments: `--json` and a subcommand.
///
/// It derives [`clap::Parser`], so it parses alone (`InspectArgs::parse()`); a parser built
/// with clap's builder gets its [`clap::Command`] from `InspectArgs::command()`
/// ([`clap::CommandFactory`]) and reads the matches back with [`clap::FromArgMatches`]; and
/// an application using the derive nests it in its own parser as a subcommand:
///
/// ```
/// use clap::{Parser, Subcommand};
///
/// #[derive(Parser)]
/// struct Cli { #[command(subcommand)] command: Command }
///
/// #[derive(Subcommand)]
/// enum Command {
///     /// Serve the application.
///     Serve,
///     /// Look into the store.
///     Inspect(es_cli::InspectArgs),
/// }
///
/// let cli = Cli::try_parse_from(["myapp", "inspect", "streams", "--json"])?;
/// let Command::Inspect(args) = cli.command else { unreachable!() };
/// assert!(args.json);
/// assert!(matches!(args.command, es_cli::InspectCommand::Streams(_)));
/// # Ok::<_, clap::Error>(())
/// ```
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "inspect",
    about = "Look into an event store: streams, events, consumers, processes"
)]
#[non_exhaustive]
pub struct InspectArgs {
    /// Print one JSON document (for `tail`, one JSON object per line) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to show.
    #[command(subcommand)]
    pub command: InspectCommand,
}

/// The inspector's subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
#[non_exhaustive]
pub enum InspectCommand {
    /// The streams, with their versions and last write.
    Streams(StreamsArgs),
    /// The events of one stream: decoded when the application registered their types,
    /// raw JSON otherwise.
    Events(EventsArgs),
    /// Follows the global log live, one line per event, until interrupted.
    Tail(TailArgs),
    /// Counts of events by name, by aggregate and by time.
    Stats(StatsArgs),
    /// Each consumer's checkpoint, the head of the log, the lag and the parked events.
    Projections(ProjectionsArgs),
    /// Empties a registered read model and processes the whole log again, with progress.
    Rebuild(RebuildArgs),
    /// Process managers: checkpoints, timers (and which are due), parked instances;
    /// retries one.
    Processes(ProcessesArgs),
    /// The domain's catalog: events, commands, aggregates, consumers.
    Catalog(CatalogArgs),
}
