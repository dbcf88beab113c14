//! [`Router`]: which repository executes which command a process manager sends.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::aggregate::Aggregate;
use crate::codec::Codec;
use crate::command::Command;
use crate::process::{Accepted, Outcome};
use crate::repository::{CommandMeta, ExecuteError, Executed, Repository};
use crate::snapshot::Snapshotting;
use crate::store::{EventStore, StoreError};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The repositories that execute the commands of process managers, one per aggregate type,
/// built once from the repositories the application already has.
///
/// A process manager's [`Answer`](crate::process::Answer) impl for a command names the
/// aggregate that handles it; the router executes the command through that aggregate's
/// repository, with [`Repository::execute_with`], so the command id the process manager
/// derived makes a repeat a no-op and a refusal is remembered.
///
/// ```
/// # use es_core::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Debug, Serialize, Deserialize)]
/// # #[event(name = "counter.added")]
/// # struct Added;
/// # #[derive(Command, Debug, Clone)]
/// # struct Add { #[id] id: u64 }
/// # #[derive(Debug, thiserror::Error, Serialize, Deserialize)]
/// # #[error("never")]
/// # struct Never;
/// # #[derive(Aggregate, Default, Debug)]
/// # #[aggregate(name = "counter", id = u64, error = Never, events(Added), commands(Add))]
/// # struct Counter;
/// # impl Apply<Added> for Counter { fn apply(&mut self, _: &Added) {} }
/// # impl Handle<Add> for Counter {
/// #     fn handle(&self, _: &Add) -> Result<Vec<CounterEvent>, Never> { Ok(vec![Added.into()]) }
/// # }
/// use es_core::process::{Outcome, Router};
/// use es_memstore::MemStore;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemStore::new();
/// let router = Router::new().with(Repository::<Counter, _>::new(store.clone()));
/// let outcome = router.execute::<Counter, _>(&Add { id: 1 }, CommandMeta::new()).await?;
/// assert!(outcome.is_accepted());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct Router {
    routes: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

/// A repository of `A`, behind its store, codec and snapshot types.
trait Execute<A: Aggregate>: Send + Sync {
    fn execute(
        &self,
        command: A::Command,
        meta: CommandMeta,
    ) -> BoxFuture<'_, Result<Executed<A>, ExecuteError<A::Error>>>;
}

impl<A, S, N, C> Execute<A> for Repository<A, S, N, C>
where
    A: Aggregate,
    A::Error: Serialize + DeserializeOwned,
    S: EventStore,
    N: Snapshotting<A, C>,
    C: Codec,
{
    fn execute(
        &self,
        command: A::Command,
        meta: CommandMeta,
    ) -> BoxFuture<'_, Result<Executed<A>, ExecuteError<A::Error>>> {
        Box::pin(self.execute_with(command, meta))
    }
}

impl Router {
    /// A router with no repository.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Executes the commands of aggregate `A` through `repository` (replacing a repository
    /// of `A` given before). The aggregate's error must be a serde type: refusals are
    /// remembered under their command ids.
    #[must_use]
    pub fn with<A, S, N, C>(mut self, repository: Repository<A, S, N, C>) -> Self
    where
        A: Aggregate,
        A::Error: Serialize + DeserializeOwned,
        S: EventStore,
        N: Snapshotting<A, C>,
        C: Codec,
    {
        let route: Arc<dyn Execute<A>> = Arc::new(repository);
        self.routes.insert(TypeId::of::<A>(), Arc::new(route));
        self
    }

    /// Whether commands of aggregate `A` have a repository.
    #[must_use]
    pub fn routes<A: Aggregate>(&self) -> bool {
        self.routes.contains_key(&TypeId::of::<A>())
    }

    /// Executes `command` through the repository of `A` with `meta`, and says what became of
    /// it: accepted, refused by the aggregate, or invalid.
    ///
    /// # Errors
    /// [`SendError::NoRoute`] when the router has no repository of `A`;
    /// [`SendError::Unavailable`] when the store failed or conflicts outlasted the
    /// repository's retries (sending again later may succeed); [`SendError::Failed`] for what
    /// retrying cannot fix (stored data that does not decode, an invalid stream id).
    pub async fn execute<A, Cmd>(
        &self,
        command: &Cmd,
        meta: CommandMeta,
    ) -> Result<Outcome<A::Error>, SendError>
    where
        A: Aggregate,
        A::Command: From<Cmd>,
        Cmd: Command + Clone,
    {
        let route = self
            .routes
            .get(&TypeId::of::<A>())
            .and_then(|route| route.downcast_ref::<Arc<dyn Execute<A>>>())
            .ok_or(SendError::NoRoute {
                command: Cmd::NAME,
                aggregate: A::NAME,
            })?;
        match route.execute(command.clone().into(), meta).await {
            Ok(executed) => Ok(Outcome::Accepted(Accepted::new(
                executed.stream_id,
                executed.stream_version,
                executed.last_position,
            ))),
            Err(ExecuteError::Domain(error)) => Ok(Outcome::Refused(error)),
            Err(ExecuteError::Invalid { errors, .. }) => Ok(Outcome::Invalid(errors)),
            Err(
                error @ (ExecuteError::Conflict { .. }
                | ExecuteError::Store(StoreError::Backend(_))),
            ) => Err(SendError::Unavailable {
                command: Cmd::NAME,
                source: Box::new(error),
            }),
            Err(error) => Err(SendError::Failed {
                command: Cmd::NAME,
                source: Box::new(error),
            }),
        }
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("aggregates", &self.routes.len())
            .finish()
    }
}

/// Why a command a process manager sent has no outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The router has no repository of the aggregate that handles the command.
    #[error(
        "no repository for command {command}: add the repository of aggregate `{aggregate}` \
         with Router::with"
    )]
    NoRoute {
        /// The command's type.
        command: &'static str,
        /// The aggregate's name.
        aggregate: &'static str,
    },
    /// The store failed, or conflicts outlasted the repository's retries: sending the
    /// command again later may succeed.
    #[error("command {command} could not be executed now: {source}")]
    Unavailable {
        /// The command's type.
        command: &'static str,
        /// The repository's error.
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The command could not be executed, and sending it again will not help.
    #[error("command {command} failed: {source}")]
    Failed {
        /// The command's type.
        command: &'static str,
        /// The repository's error.
        source: Box<dyn StdError + Send + Sync>,
    },
}
