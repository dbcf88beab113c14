//! The service's state: the store, a repository per aggregate, the read models kept in
//! memory, and the transfer workflow; and [`Bank::run`], which keeps the last two following
//! the log.

use std::future::Future;
use std::time::Duration;

use es_core::prelude::*;
use es_core::process::{ProcessStore, Workflow};
use tokio::sync::watch;

use crate::bank::Account;
use crate::bank::process::{TransferProcess, workflow};
use crate::bank::transfer::Transfer;
use crate::bank::views::{Accounts, Transfers};

/// How long a read waits by default for its read model to reach the position asked for.
pub const DEFAULT_READ_WAIT: Duration = Duration::from_secs(5);

/// Everything the handlers share; cheap to clone (each part is a handle).
#[derive(Debug)]
pub struct Bank<S: ProcessStore> {
    pub(crate) store: S,
    pub(crate) accounts: Repository<Account, S>,
    pub(crate) transfers: Repository<Transfer, S>,
    pub(crate) account_view: ProjectionRunner<InMemory<Accounts>, S>,
    pub(crate) transfer_view: ProjectionRunner<InMemory<Transfers>, S>,
    pub(crate) process: ProjectionRunner<Workflow<TransferProcess, S>, S>,
    pub(crate) read_wait: Duration,
}

impl<S: ProcessStore> Clone for Bank<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            accounts: self.accounts.clone(),
            transfers: self.transfers.clone(),
            account_view: self.account_view.clone(),
            transfer_view: self.transfer_view.clone(),
            process: self.process.clone(),
            read_wait: self.read_wait,
        }
    }
}

impl<S: ProcessStore> Bank<S> {
    /// The bank on `store`: repositories with the default settings, the read models empty
    /// (they catch up from the start of the log once [`run`](Self::run)), the transfer
    /// workflow of [`workflow`].
    pub fn new(store: S) -> Self {
        Self {
            accounts: Repository::new(store.clone()),
            transfers: Repository::new(store.clone()),
            account_view: ProjectionRunner::new(store.clone(), Accounts::default()),
            transfer_view: ProjectionRunner::new(store.clone(), Transfers::default()),
            process: ProjectionRunner::new(store.clone(), workflow(&store)),
            read_wait: DEFAULT_READ_WAIT,
            store,
        }
    }

    /// Waits at most `wait` for a read model to reach the position a read asks for, then
    /// answers 503 `not_caught_up` (default [`DEFAULT_READ_WAIT`]).
    #[must_use]
    pub fn with_read_wait(mut self, wait: Duration) -> Self {
        self.read_wait = wait;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Runs the read models and the transfer workflow, each following the log live, until
    /// `shutdown` completes; returns once all three have stopped. Each retries store
    /// failures on its own; one that stops on an error it cannot retry (a panic, an event
    /// that does not decode) is logged, and reads waiting on it then time out.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let (stop, stopped) = watch::channel(false);
        let signal = || {
            let mut stopped = stopped.clone();
            async move {
                // An error means the sender is gone, which is a stop too.
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let runners = async {
            tokio::join!(
                report("accounts", self.account_view.run(signal())),
                report("transfers", self.transfer_view.run(signal())),
                report("transfer-process", self.process.run(signal())),
            )
        };
        let trigger = async {
            shutdown.await;
            let _ = stop.send(true);
        };
        tokio::join!(runners, trigger);
    }
}

/// Logs how a runner stopped.
async fn report(name: &str, run: impl Future<Output = Result<Position, ProjectionError>>) {
    match run.await {
        Ok(position) => tracing::info!(runner = name, %position, "stopped"),
        Err(error) => tracing::error!(runner = name, %error, "stopped on an error"),
    }
}
