//! [`Inspector`]: a store and what the application registered, and the subcommands run on them.

use std::fmt;

use clap::Parser as _;
use es_core::codec::Codec;
use es_core::process::{ProcessManager, ProcessStore, Workflow};
use es_core::projection::Target;
use es_core::store::Inspect;
use es_core::{EventSet, EventStore, ProjectionRunner, RecordedEvent};

use crate::args::{InspectArgs, InspectCommand};
use crate::commands;
use crate::output::{Out, report_error};
use crate::registry::{Decoder, ProcessEntry, ProcessHandle, ProjectionEntry, decoder};
use crate::{CliError, Exit};
use es_core::catalog::Catalog;

/// The inspector over store `S`, with what the application registered: projection runners
/// (for `rebuild` and their lag), process managers (for `processes --retry`), event types
/// (to decode payloads in `events` and `tail`) and the catalog.
///
/// Everything that needs no registration works on the store alone: `streams`, raw `events`,
/// `tail`, `stats`, the stored checkpoints of `projections`, and the timers and parked
/// instances of `processes` (named on the command line).
///
/// The subcommands run on the caller's tokio runtime, which needs its time driver
/// (`enable_time` or `enable_all`): `tail` and `rebuild` wait on it. The future of
/// [`run`](Self::run) is not `Send` (the registrations are type-erased without that bound):
/// await it in `main` or a local task, not in `tokio::spawn`.
pub struct Inspector<S> {
    pub(crate) store: S,
    pub(crate) projections: Vec<Box<dyn ProjectionEntry>>,
    pub(crate) processes: Vec<Box<dyn ProcessEntry>>,
    pub(crate) decoders: Vec<Decoder>,
    pub(crate) catalog: Option<Catalog>,
}

impl<S: Inspect + ProcessStore> Inspector<S> {
    /// An inspector of `store`, with nothing registered.
    #[must_use]
    pub fn new(store: S) -> Self {
        Self {
            store,
            projections: Vec::new(),
            processes: Vec::new(),
            decoders: Vec::new(),
            catalog: None,
        }
    }

    /// Registers a projection runner under its projection's name: `rebuild NAME` rebuilds
    /// it, and `projections` shows its checkpoint (the lowest of its partitions') and its
    /// parked events even before it has stored a checkpoint.
    #[must_use]
    pub fn projection<T, R, C>(mut self, runner: ProjectionRunner<T, R, C>) -> Self
    where
        T: Target,
        R: EventStore,
        C: Codec,
    {
        self.projections.push(Box::new(runner));
        self
    }

    /// Registers the runner of a process manager: `processes` lists it without being
    /// named, and `processes NAME --retry KEY` asks a parked instance to retry.
    #[must_use]
    pub fn process<P, WS, WC, R, C>(
        self,
        runner: &ProjectionRunner<Workflow<P, WS, WC>, R, C>,
    ) -> Self
    where
        P: ProcessManager,
        WS: ProcessStore,
        WC: Codec + Clone,
        R: EventStore,
        C: Codec,
    {
        self.workflow(runner.target().clone())
    }

    /// Registers the workflow of a process manager, as [`process`](Self::process) does with
    /// its runner.
    #[must_use]
    pub fn workflow<P, WS, WC>(mut self, workflow: Workflow<P, WS, WC>) -> Self
    where
        P: ProcessManager,
        WS: ProcessStore,
        WC: Codec,
    {
        self.processes.push(Box::new(ProcessHandle { workflow }));
        self
    }

    /// Registers event set `E` (an aggregate's event enum, such as `AccountEvent`): `events`
    /// and `tail` show its events decoded (upcast to their current version, as their
    /// `Debug` text) next to their raw JSON. Payloads are decoded as JSON.
    #[must_use]
    pub fn events<E: EventSet>(mut self) -> Self {
        self.decoders.push(decoder::<E>());
        self
    }

    /// Registers the domain's catalog, for `catalog --format`.
    #[must_use]
    pub fn catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Parses the process's arguments as [`InspectArgs`] and runs them. A usage error prints
    /// clap's message and gives [`Exit::Usage`]; `--help` prints the help and gives
    /// [`Exit::Ok`].
    pub async fn run_from_env(&self) -> Exit {
        match InspectArgs::try_parse() {
            Ok(args) => self.run(args).await,
            Err(error) => clap_exit(&error),
        }
    }

    /// Runs the subcommand of `args`: its output on standard output, an error as one line on
    /// standard error; returns the exit code.
    pub async fn run(&self, args: InspectArgs) -> Exit {
        let mut out = Out::stdout(args.json);
        match self.dispatch(&args.command, &mut out).await {
            Ok(()) => Exit::Ok,
            Err(error) => {
                let exit = error.exit();
                if exit != Exit::Ok {
                    report_error(&error);
                }
                exit
            }
        }
    }

    async fn dispatch(&self, command: &InspectCommand, out: &mut Out) -> Result<(), CliError> {
        match command {
            InspectCommand::Streams(args) => commands::streams::run(self, args, out).await,
            InspectCommand::Events(args) => commands::events::run(self, args, out).await,
            InspectCommand::Tail(args) => commands::tail::run(self, args, out).await,
            InspectCommand::Stats(args) => commands::stats::run(self, args, out).await,
            InspectCommand::Projections(args) => commands::projections::run(self, args, out).await,
            InspectCommand::Rebuild(args) => commands::rebuild::run(self, args, out).await,
            InspectCommand::Processes(args) => commands::processes::run(self, args, out).await,
            InspectCommand::Catalog(args) => commands::catalog::run(self, args, out),
        }
    }

    /// The decoded text of `event`, from the first registered event set that has its name.
    pub(crate) fn decode(&self, event: &RecordedEvent) -> Option<String> {
        self.decoders.iter().find_map(|decode| decode(event))
    }
}

/// The exit of a clap error: its message printed, [`Exit::Ok`] for `--help` and
/// `--version`, [`Exit::Usage`] otherwise.
pub fn clap_exit(error: &clap::Error) -> Exit {
    let _ = error.print();
    if error.use_stderr() {
        Exit::Usage
    } else {
        Exit::Ok
    }
}

impl<S: fmt::Debug> fmt::Debug for Inspector<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let projections: Vec<&str> = self.projections.iter().map(|p| p.name()).collect();
        let processes: Vec<&str> = self.processes.iter().map(|p| p.name()).collect();
        f.debug_struct("Inspector")
            .field("store", &self.store)
            .field("projections", &projections)
            .field("processes", &processes)
            .field("event_sets", &self.decoders.len())
            .field("catalog", &self.catalog.is_some())
            .finish()
    }
}
