//! Executing a command: validate it, load the aggregate (from the cache when it is there),
//! decide, append with the loaded version as the expected version, and on a version
//! conflict catch up and decide again.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::codec::{Codec, CodecError};
use crate::command::CommandSet;
use crate::envelope::{Metadata, NewEvent, Position, StreamId, Version};
use crate::event::EventSet;
use crate::retry;
use crate::snapshot::Snapshotting;
use crate::store::{Appended, EventStore, ExpectedVersion, Recorded, StoreError};
use crate::trace::{in_span, record, span};
use crate::util::YieldNow;

use super::load::Until;
use super::{CommandMeta, ExecuteError, Repository};

/// The outcome of a successful [`Repository::execute`].
///
/// Only the repository builds one; read its fields (more may be added, so a pattern needs
/// `..`).
#[derive(Debug)]
#[non_exhaustive]
pub struct Executed<A: Aggregate> {
    /// The aggregate's stream.
    pub stream_id: StreamId,
    /// The stream's version after the command.
    pub stream_version: Version,
    /// The global position of the last appended event; `None` when the command produced no
    /// events. Wait for a projection to reach it to read your own writes.
    pub last_position: Option<Position>,
    /// The events the command produced, in order, as appended.
    pub events: Vec<A::Event>,
    /// How many times the command was decided: 1 unless version conflicts forced retries,
    /// at most the [`RetryPolicy::max_attempts`](crate::RetryPolicy::max_attempts) of the
    /// repository; 0 for a duplicate found before deciding.
    pub attempts: u32,
    /// Whether the command id had already produced events on this stream: nothing was
    /// appended, `events` is empty, and `stream_version`/`last_position` are those of the
    /// earlier append.
    pub duplicate: bool,
}

impl<A: Aggregate> Executed<A> {
    fn from_earlier(stream_id: StreamId, earlier: Appended, attempts: u32) -> Self {
        Self {
            stream_id,
            stream_version: earlier.stream_version,
            last_position: Some(earlier.last_position),
            events: Vec::new(),
            attempts,
            duplicate: true,
        }
    }
}

impl<A: Aggregate, S: EventStore, N: Snapshotting<A, C>, C: Codec> Repository<A, S, N, C> {
    /// Executes `command`: validate it, load the target aggregate (from the cache when it is
    /// there), decide, append with the loaded version as the expected version. On a version
    /// conflict the aggregate catches up on the new events and the command is decided again,
    /// as often and after such waits as the repository's [`RetryPolicy`](crate::RetryPolicy)
    /// allows (see [`with_retry`](Self::with_retry)); [`Executed::attempts`] says how many
    /// decisions it took.
    ///
    /// A decision that produces no events appends nothing and succeeds.
    ///
    /// # Errors
    /// [`ExecuteError::Invalid`] when the command breaks its validation rules and
    /// [`ExecuteError::Domain`] when the aggregate refuses it (nothing is appended in either case),
    /// [`ExecuteError::Conflict`] when every attempt the policy allows met a conflict, and the
    /// load, encode and store errors of the steps.
    pub async fn execute(
        &self,
        command: impl Into<A::Command>,
    ) -> Result<Executed<A>, ExecuteError<A::Error>> {
        let (command, meta) = (command.into(), CommandMeta::new());
        let span = execute_span::<A>(&command, &meta);
        in_span(self.run(command, meta, None), span).await
    }

    /// [`execute`](Self::execute) with the command's metadata: every event it appends
    /// carries `meta.command_id` as its command id and causation id, inherits the correlation
    /// id (the command id when `meta` has none), and copies the headers.
    ///
    /// Commands are idempotent by command id: if `meta.command_id` already produced events on
    /// the target stream (through any repository on the store), nothing is decided or
    /// appended and the earlier outcome is returned with [`Executed::duplicate`] set. Reuse a
    /// client's request id as the command id to make retried requests safe.
    ///
    /// A refusal is remembered the same way: the aggregate's error is encoded with the
    /// repository's codec (hence the serde bounds) and recorded under the command id
    /// ([`EventStore::refuse`]), so executing the same command id again returns the same
    /// [`ExecuteError::Domain`] without deciding again, on every repository of the store,
    /// also when two of them execute it at once. (Validation refusals need no memory: they
    /// depend on the command alone. A decision that produces no events is not recorded.)
    ///
    /// ```
    /// # use es_core::prelude::*;
    /// # use es_core::repository::CommandMeta;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Debug, Serialize, Deserialize)]
    /// # #[event(name = "counter.incremented")]
    /// # struct Incremented { by: u32 }
    /// # #[derive(Command, Debug)]
    /// # struct Increment { #[id] id: u64, by: u32 }
    /// # #[derive(Debug, thiserror::Error, Serialize, Deserialize)]
    /// # #[error("never")]
    /// # struct Never;
    /// # #[derive(Aggregate, Default, Debug)]
    /// # #[aggregate(name = "counter", id = u64, error = Never,
    /// #             events(Incremented), commands(Increment))]
    /// # struct Counter;
    /// # impl Apply<Incremented> for Counter { fn apply(&mut self, _: &Incremented) {} }
    /// # impl Handle<Increment> for Counter {
    /// #     fn handle(&self, cmd: &Increment) -> Result<Vec<CounterEvent>, Never> {
    /// #         Ok(vec![Incremented { by: cmd.by }.into()])
    /// #     }
    /// # }
    /// use es_memstore::MemStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemStore::new();
    /// let counters = Repository::<Counter, _>::new(store.clone());
    /// let meta = CommandMeta::new().with_header("actor", "ada");
    /// let command_id = meta.command_id;
    /// counters.execute_with(Increment { id: 1, by: 2 }, meta).await?;
    ///
    /// let stored = &store.read_all(Position::START, 1).await?[0];
    /// assert_eq!(stored.metadata.command_id, Some(command_id));
    /// assert_eq!(stored.metadata.causation_id, Some(command_id));
    /// assert_eq!(stored.metadata.correlation_id, Some(command_id));
    /// assert_eq!(stored.metadata.headers["actor"], "ada");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn execute_with(
        &self,
        command: impl Into<A::Command>,
        meta: CommandMeta,
    ) -> Result<Executed<A>, ExecuteError<A::Error>>
    where
        A::Error: Serialize + DeserializeOwned,
    {
        let command = command.into();
        let span = execute_span::<A>(&command, &meta);
        let refusals = CodecRefusals(&self.codec);
        in_span(self.run(command, meta, Some(&refusals)), span).await
    }

    /// The write path. `refusals` is how refusals are remembered under the command id, and
    /// `None` when the id was drawn for this call alone: nobody can ask for it again, so
    /// there is nothing to look up or remember.
    async fn run(
        &self,
        command: A::Command,
        meta: CommandMeta,
        refusals: Option<&dyn Refusals<A::Error>>,
    ) -> Result<Executed<A>, ExecuteError<A::Error>> {
        command.validate().map_err(|errors| ExecuteError::Invalid {
            command: command.name(),
            errors,
        })?;
        let metadata = meta.event_metadata();
        let stream_id = self.stream_id(command.aggregate_id())?;
        record!(stream = %stream_id);
        // A command id seen before gets its first outcome, before any decision: deciding
        // again could refuse it (a repeated registration is "already registered"), or accept
        // what was refused. The id `execute` draws itself is new by construction: no lookup.
        if let Some(refusals) = refusals
            && let Some(earlier) = self
                .store
                .find_command(&stream_id, meta.command_id)
                .await
                .map_err(ExecuteError::Store)?
        {
            return earlier_outcome(refusals, stream_id, meta.command_id, earlier, 0);
        }
        let (mut state, mut version, mut cached) = match self.cache.take(&stream_id) {
            Some((state, version)) => (state, version, true),
            None => {
                let loaded = self.load_until(stream_id.clone(), Until::End).await?;
                (loaded.state, loaded.version, false)
            }
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let decision = state.handle_command(&command);
            let refused_or_idle = !matches!(&decision, Ok(events) if !events.is_empty());
            if refused_or_idle && cached {
                // Only an append checks a cached state; check it before answering without one.
                cached = false;
                let current = self
                    .store
                    .stream_version(&stream_id)
                    .await
                    .map_err(ExecuteError::Store)?;
                if current != version {
                    self.fold(&stream_id, &mut state, &mut version, Until::End)
                        .await?;
                    attempts -= 1;
                    continue;
                }
            }
            let failure = match decision {
                Err(error) => {
                    let Some(refusals) = refusals else {
                        self.cache.put(stream_id, version, state);
                        return Err(ExecuteError::Domain(error));
                    };
                    let payload =
                        refusals
                            .encode(&error)
                            .map_err(|cause| ExecuteError::EncodeRefusal {
                                stream_id: stream_id.clone(),
                                cause,
                            })?;
                    let expected = ExpectedVersion::at(version);
                    match self
                        .store
                        .refuse(&stream_id, expected, meta.command_id, payload)
                        .await
                    {
                        // Recorded, or another execution's outcome recorded first: either way
                        // the recorded one is the answer. An earlier append of the command
                        // is missing from the state, so only a refusal leaves it cached.
                        Ok(recorded) => {
                            if let Recorded::Refused(_) = recorded {
                                self.cache.put(stream_id.clone(), version, state);
                            }
                            return earlier_outcome(
                                refusals,
                                stream_id,
                                meta.command_id,
                                recorded,
                                attempts,
                            );
                        }
                        Err(failure) => failure,
                    }
                }
                Ok(events) if events.is_empty() => {
                    self.cache.put(stream_id.clone(), version, state);
                    return Ok(Executed {
                        stream_id,
                        stream_version: version,
                        last_position: None,
                        events,
                        attempts,
                        duplicate: false,
                    });
                }
                Ok(events) => {
                    let batch = self.encode(&stream_id, &events, &metadata)?;
                    match (self.append(&stream_id, version, batch).await, refusals) {
                        // Another execution of the same command id was refused first. (A
                        // fresh id cannot have been: that error is the store's, below.)
                        (
                            Err(StoreError::AlreadyRefused {
                                stream_id,
                                command_id,
                                refusal,
                            }),
                            Some(refusals),
                        ) => {
                            let refused = Recorded::Refused(refusal);
                            return earlier_outcome(
                                refusals, stream_id, command_id, refused, attempts,
                            );
                        }
                        // A concurrent execution of the same command id won the race; the
                        // state misses its events, so it is not cached.
                        (Ok(appended), _) if appended.duplicate => {
                            return Ok(Executed::from_earlier(stream_id, appended, attempts));
                        }
                        (Ok(appended), _) => {
                            for event in &events {
                                state.apply_event(event);
                            }
                            let before = version;
                            version = appended.stream_version;
                            record!(version = version.0);
                            record!(position = appended.last_position.0);
                            record!(attempts = attempts);
                            self.maybe_snapshot(&stream_id, before, version, &state)
                                .await;
                            self.cache.put(stream_id.clone(), version, state);
                            return Ok(Executed {
                                stream_id,
                                stream_version: version,
                                last_position: Some(appended.last_position),
                                events,
                                attempts,
                                duplicate: false,
                            });
                        }
                        (Err(failure), _) => failure,
                    }
                }
            };
            // Whether the append or the refusal was stored is unknown: the state is not cached.
            let StoreError::Conflict { actual, .. } = failure else {
                return Err(ExecuteError::Store(failure));
            };
            if !self.retry.allows_retry(attempts) {
                return Err(ExecuteError::Conflict {
                    stream_id,
                    attempts,
                    expected: version,
                    actual,
                });
            }
            // The decision (events or a refusal) was made on a state that is no longer
            // current. Let a conflicting writer on a single-threaded executor finish first.
            YieldNow(false).await;
            // Then step aside for a random while (this is retry number `attempts`), so that
            // writers who met here come back apart; catching up comes after the wait, to
            // decide on everything appended meanwhile.
            retry::sleep(self.retry.delay(attempts)).await;
            self.fold(&stream_id, &mut state, &mut version, Until::End)
                .await?;
            cached = false;
        }
    }

    /// Appends `batch` to `stream_id`, expected at `version`.
    async fn append(
        &self,
        stream_id: &StreamId,
        version: Version,
        batch: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let span = span!(
            "es.append",
            stream = %stream_id,
            expected = version.0,
            events = batch.len(),
        );
        let expected = ExpectedVersion::at(version);
        in_span(self.store.append(stream_id, expected, batch), span).await
    }

    /// Saves a snapshot when the stream went from `before` past a multiple of the policy.
    async fn maybe_snapshot(
        &self,
        stream_id: &StreamId,
        before: Version,
        after: Version,
        state: &A,
    ) {
        let every = A::SNAPSHOT_EVERY.unwrap_or(self.snapshot_every);
        if every > 0 && before.0 / every != after.0 / every {
            self.snapshots
                .save(&self.codec, stream_id, after, state)
                .await;
        }
    }

    fn encode(
        &self,
        stream_id: &StreamId,
        events: &[A::Event],
        metadata: &Metadata,
    ) -> Result<Vec<NewEvent>, ExecuteError<A::Error>> {
        events
            .iter()
            .map(|event| {
                event
                    .encode(&self.codec)
                    .map(|encoded| NewEvent::new(encoded).with_metadata(metadata.clone()))
                    .map_err(|cause| ExecuteError::Encode {
                        stream_id: stream_id.clone(),
                        name: event.name(),
                        cause,
                    })
            })
            .collect()
    }
}

/// The answer of a command id's recorded outcome: the earlier append (a duplicate), or the
/// earlier refusal decoded as the aggregate's error.
fn earlier_outcome<A: Aggregate>(
    refusals: &dyn Refusals<A::Error>,
    stream_id: StreamId,
    command_id: Uuid,
    recorded: Recorded,
    attempts: u32,
) -> Result<Executed<A>, ExecuteError<A::Error>> {
    match recorded {
        Recorded::Appended(earlier) => Ok(Executed::from_earlier(stream_id, earlier, attempts)),
        Recorded::Refused(refusal) => match refusals.decode(&refusal.payload) {
            Ok(error) => Err(ExecuteError::Domain(error)),
            Err(cause) => Err(ExecuteError::Store(StoreError::Corrupt {
                location: format!("the refusal of command {command_id} on stream {stream_id}"),
                problem: format!(
                    "it does not decode as {}: {cause}",
                    std::any::type_name::<A::Error>()
                ),
            })),
        },
    }
}

/// How a repository turns its aggregate's refusals into bytes and back, to remember them.
trait Refusals<E>: Sync {
    fn encode(&self, error: &E) -> Result<Bytes, CodecError>;
    fn decode(&self, payload: &[u8]) -> Result<E, CodecError>;
}

/// Refusals encoded with the repository's codec.
struct CodecRefusals<'a, C>(&'a C);

impl<E: Serialize + DeserializeOwned, C: Codec> Refusals<E> for CodecRefusals<'_, C> {
    fn encode(&self, error: &E) -> Result<Bytes, CodecError> {
        self.0.encode(error).map(Bytes::from)
    }

    fn decode(&self, payload: &[u8]) -> Result<E, CodecError> {
        self.0.decode(payload)
    }
}

/// The span of one execution (see "Tracing" in the crate docs); the fields only known later
/// are recorded by `run`.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn execute_span<A: Aggregate>(command: &A::Command, meta: &CommandMeta) -> crate::trace::Span {
    span!(
        "es.execute",
        aggregate = A::NAME,
        command = command.name(),
        command_id = %meta.command_id,
        stream = ::tracing::field::Empty,
        version = ::tracing::field::Empty,
        position = ::tracing::field::Empty,
        attempts = ::tracing::field::Empty,
    )
}
