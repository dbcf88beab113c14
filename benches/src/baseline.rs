//! The hand-written baseline: what the benchmarks would cost without the framework.
//!
//! Streams are a plain `HashMap<String, Vec<Stored>>`, each event its wire name and its
//! serde_json payload (the same bytes the framework stores). Loading decodes and folds them
//! by hand with a `match` on the name; a command looks its account up (in a state map, a
//! snapshot plus the tail, or the whole stream), runs the same rule as the framework's
//! aggregate, encodes the event, pushes it and folds it. No ids, no metadata, no envelopes,
//! no locks (a single owner holds the map mutably), no version check.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use uuid::Uuid;

use crate::Step;
use crate::domain::{Account, AccountError, Deposited, Ledger, Opened, Withdrawn};

/// The wire name of [`Opened`].
pub const OPENED: &str = "account.opened";
/// The wire name of [`Deposited`].
pub const DEPOSITED: &str = "account.deposited";
/// The wire name of [`Withdrawn`].
pub const WITHDRAWN: &str = "account.withdrawn";

/// The static wire name equal to `name`, if it is one of the domain's.
#[must_use]
pub fn wire_name(name: &str) -> Option<&'static str> {
    [OPENED, DEPOSITED, WITHDRAWN]
        .into_iter()
        .find(|known| *known == name)
}

/// An event as the baseline keeps it: wire name and JSON payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The wire name.
    pub name: &'static str,
    /// The serde_json payload.
    pub payload: Vec<u8>,
}

/// Why a baseline command or load failed.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The account refused the command.
    #[error(transparent)]
    Domain(#[from] AccountError),
    /// A payload or snapshot did not encode or decode.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A stored event with a name the domain does not know.
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
}

/// Decodes one stored event and folds it into `state`.
///
/// # Errors
/// [`BaselineError::Json`] for a payload that does not decode,
/// [`BaselineError::UnknownEvent`] for an unknown name.
pub fn fold_account(state: &mut Account, name: &str, payload: &[u8]) -> Result<(), BaselineError> {
    match name {
        OPENED => state.opened(&serde_json::from_slice(payload)?),
        DEPOSITED => state.deposited(&serde_json::from_slice(payload)?),
        WITHDRAWN => state.withdrawn(&serde_json::from_slice(payload)?),
        other => return Err(BaselineError::UnknownEvent(other.to_owned())),
    }
    Ok(())
}

/// Decodes one stored event and folds it into the [`Ledger`] read model.
///
/// # Errors
/// As [`fold_account`].
pub fn fold_ledger(ledger: &mut Ledger, name: &str, payload: &[u8]) -> Result<(), BaselineError> {
    match name {
        OPENED => ledger.opened(&serde_json::from_slice(payload)?),
        DEPOSITED => ledger.deposited(&serde_json::from_slice(payload)?),
        WITHDRAWN => ledger.withdrawn(&serde_json::from_slice(payload)?),
        other => return Err(BaselineError::UnknownEvent(other.to_owned())),
    }
    Ok(())
}

/// Decides `step` on `state` with the domain's rule and encodes the event, as a
/// hand-written command would: the state is left as it was.
///
/// # Errors
/// [`BaselineError::Domain`] when the account refuses, [`BaselineError::Json`] when the
/// event does not encode.
pub fn decide(state: &Account, step: Step) -> Result<Stored, BaselineError> {
    Ok(Decided::decide(state, step)?.encode()?)
}

/// An event decided by hand.
enum Decided {
    Opened(Opened),
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

impl Decided {
    fn decide(state: &Account, step: Step) -> Result<Self, AccountError> {
        Ok(match step {
            Step::Open => Self::Opened(state.decide_open(crate::OWNER)?),
            Step::Deposit(amount) => Self::Deposited(state.decide_deposit(amount)?),
            Step::Withdraw(amount) => Self::Withdrawn(state.decide_withdraw(amount)?),
        })
    }

    fn encode(&self) -> Result<Stored, serde_json::Error> {
        Ok(match self {
            Self::Opened(event) => Stored {
                name: OPENED,
                payload: serde_json::to_vec(event)?,
            },
            Self::Deposited(event) => Stored {
                name: DEPOSITED,
                payload: serde_json::to_vec(event)?,
            },
            Self::Withdrawn(event) => Stored {
                name: WITHDRAWN,
                payload: serde_json::to_vec(event)?,
            },
        })
    }

    fn apply_to(&self, state: &mut Account) {
        match self {
            Self::Opened(event) => state.opened(event),
            Self::Deposited(event) => state.deposited(event),
            Self::Withdrawn(event) => state.withdrawn(event),
        }
    }
}

/// Streams of JSON events in a plain map.
#[derive(Debug, Default)]
pub struct PlainStore {
    /// The events of each stream, in order.
    pub streams: HashMap<String, Vec<Stored>>,
}

impl PlainStore {
    /// Appends `event` to `stream`.
    pub fn push(&mut self, stream: &str, event: Stored) {
        match self.streams.get_mut(stream) {
            Some(events) => events.push(event),
            None => {
                self.streams.insert(stream.to_owned(), vec![event]);
            }
        }
    }

    /// Folds the events of `stream` after `version` into `state`; returns the new version.
    ///
    /// # Errors
    /// As [`fold_account`].
    pub fn fold(
        &self,
        stream: &str,
        state: &mut Account,
        version: u64,
    ) -> Result<u64, BaselineError> {
        let events = self.streams.get(stream).map_or(&[][..], Vec::as_slice);
        let skip = usize::try_from(version)
            .unwrap_or(usize::MAX)
            .min(events.len());
        for event in &events[skip..] {
            fold_account(state, event.name, &event.payload)?;
        }
        Ok(events.len() as u64)
    }

    /// The total number of events.
    #[must_use]
    pub fn len(&self) -> usize {
        self.streams.values().map(Vec::len).sum()
    }

    /// Whether no stream holds an event.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The hand-written command path: find the account's state (in the state map, from the
/// latest snapshot and the events after it, or by replaying its stream), decide with the
/// same rule as the framework, encode the event, push it, fold it, and snapshot or cache
/// the state as configured.
#[derive(Debug, Default)]
pub struct PlainRepository {
    /// The streams.
    pub store: PlainStore,
    cache: Option<HashMap<String, (u64, Account)>>,
    snapshots: Option<PlainSnapshots>,
    bookkeeping: Option<Bookkeeping>,
}

/// What hand-written code records besides the events to keep the framework's promises: a
/// command id and an event id (UUID v7) and a recording time for each event, one global log
/// in append order, and an index of command ids for idempotency. Kept as plainly as a
/// careful hand-written store would: stream names interned, the log a vector of small
/// entries.
#[derive(Debug, Default)]
struct Bookkeeping {
    /// Each stream's name, shared by its log entries.
    names: HashMap<String, Arc<str>>,
    /// The global log: entry `i` is the event at position `i + 1`.
    log: Vec<LogEntry>,
    /// Each command id with the position of the event it produced.
    commands: HashMap<Uuid, u64>,
}

/// One event in [`Bookkeeping`]'s global log.
#[derive(Debug)]
#[allow(dead_code)] // Recorded, as a store would, and never read by the benchmarks.
struct LogEntry {
    stream: Arc<str>,
    version: u64,
    event_id: Uuid,
    command_id: Uuid,
    recorded_at: SystemTime,
}

impl Bookkeeping {
    /// Records the event that a command with a fresh id appended at `version` of `stream`.
    fn record(&mut self, stream: &str, version: u64) {
        let name = match self.names.get(stream) {
            Some(name) => Arc::clone(name),
            None => {
                let name: Arc<str> = Arc::from(stream);
                self.names.insert(stream.to_owned(), Arc::clone(&name));
                name
            }
        };
        let command_id = Uuid::now_v7();
        self.log.push(LogEntry {
            stream: name,
            version,
            event_id: Uuid::now_v7(),
            command_id,
            recorded_at: SystemTime::now(),
        });
        self.commands.insert(command_id, self.log.len() as u64);
    }
}

/// The latest snapshot of each stream: its version and the JSON of the state.
#[derive(Debug)]
struct PlainSnapshots {
    every: u64,
    latest: HashMap<String, (u64, Vec<u8>)>,
}

impl PlainRepository {
    /// No state map and no snapshots: every command replays its stream.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps every account's state and version in an (unbounded) map between commands.
    #[must_use]
    pub fn with_cache(mut self) -> Self {
        self.cache = Some(HashMap::new());
        self
    }

    /// Snapshots an account's state as JSON each time a command takes its stream past a
    /// multiple of `every` events; loads start from the latest snapshot.
    #[must_use]
    pub fn with_snapshots(mut self, every: u64) -> Self {
        self.snapshots = Some(PlainSnapshots {
            every,
            latest: HashMap::new(),
        });
        self
    }

    /// Records what the framework records besides each event: a command id and an event
    /// id (UUID v7) and a recording time, one global log in append order, and an index of
    /// command ids, kept as plainly as a careful hand-written store would.
    #[must_use]
    pub fn with_bookkeeping(mut self) -> Self {
        self.bookkeeping = Some(Bookkeeping::default());
        self
    }

    /// The number of events in the global log of [`with_bookkeeping`](Self::with_bookkeeping)
    /// (0 without it).
    #[must_use]
    pub fn logged(&self) -> usize {
        self.bookkeeping.as_ref().map_or(0, |books| books.log.len())
    }

    /// The stream of `account`.
    #[must_use]
    pub fn stream(account: u64) -> String {
        format!("account-{account}")
    }

    /// Keeps `version` and `payload` as the latest snapshot of `stream` (snapshots must be
    /// turned on).
    pub fn put_snapshot(&mut self, stream: &str, version: u64, payload: Vec<u8>) {
        if let Some(snapshots) = &mut self.snapshots {
            snapshots
                .latest
                .insert(stream.to_owned(), (version, payload));
        }
    }

    /// Loads `account`: its latest snapshot (if snapshots are on) and the events after it.
    ///
    /// # Errors
    /// As [`fold_account`].
    pub fn load(&self, account: u64) -> Result<(Account, u64), BaselineError> {
        self.load_stream(&Self::stream(account))
    }

    fn load_stream(&self, stream: &str) -> Result<(Account, u64), BaselineError> {
        let snapshot = self
            .snapshots
            .as_ref()
            .and_then(|snapshots| snapshots.latest.get(stream));
        let (mut state, version) = match snapshot {
            Some((version, payload)) => (serde_json::from_slice(payload)?, *version),
            None => (Account::default(), 0),
        };
        let version = self.store.fold(stream, &mut state, version)?;
        Ok((state, version))
    }

    /// Executes `step` on `account`; returns the stream's new version.
    ///
    /// # Errors
    /// [`BaselineError::Domain`] when the account refuses (nothing is stored), or the
    /// errors of decoding and encoding.
    pub fn execute(&mut self, account: u64, step: Step) -> Result<u64, BaselineError> {
        let stream = Self::stream(account);
        if let Some((version, state)) = self.cache.as_mut().and_then(|cache| cache.get_mut(&stream))
        {
            let event = Decided::decide(state, step)?;
            self.store.push(&stream, event.encode()?);
            event.apply_to(state);
            *version += 1;
            if let Some(books) = &mut self.bookkeeping {
                books.record(&stream, *version);
            }
            return Ok(*version);
        }
        let (mut state, before) = self.load_stream(&stream)?;
        let event = Decided::decide(&state, step)?;
        self.store.push(&stream, event.encode()?);
        event.apply_to(&mut state);
        let version = before + 1;
        if let Some(books) = &mut self.bookkeeping {
            books.record(&stream, version);
        }
        if let Some(snapshots) = &mut self.snapshots
            && snapshots.every > 0
            && before / snapshots.every != version / snapshots.every
        {
            let payload = serde_json::to_vec(&state)?;
            snapshots.latest.insert(stream.clone(), (version, payload));
        }
        if let Some(cache) = &mut self.cache {
            cache.insert(stream, (version, state));
        }
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use es_core::Event;

    #[test]
    fn wire_names_are_the_domains() {
        assert_eq!(OPENED, Opened::NAME);
        assert_eq!(DEPOSITED, Deposited::NAME);
        assert_eq!(WITHDRAWN, Withdrawn::NAME);
        assert_eq!(wire_name("account.withdrawn"), Some(WITHDRAWN));
        assert_eq!(wire_name("account.closed"), None);
    }

    #[test]
    fn every_flavour_folds_the_same_state() {
        let mut plain = PlainRepository::new();
        let mut cached = PlainRepository::new().with_cache();
        let mut snapshotted = PlainRepository::new().with_snapshots(7);
        let mut booked = PlainRepository::new().with_cache().with_bookkeeping();
        for n in 0..50 {
            let step = Step::nth(n);
            for repo in [&mut plain, &mut cached, &mut snapshotted, &mut booked] {
                assert_eq!(repo.execute(3, step).unwrap(), n + 1);
            }
        }
        let expected = plain.load(3).unwrap();
        assert_eq!(expected.0.transactions, 49);
        assert_eq!(cached.load(3).unwrap(), expected);
        assert_eq!(snapshotted.load(3).unwrap(), expected);
        assert_eq!(booked.load(3).unwrap(), expected);
        assert_eq!((booked.logged(), plain.logged()), (50, 0));
        assert!(matches!(
            plain.execute(3, Step::Open),
            Err(BaselineError::Domain(AccountError::AlreadyOpen))
        ));
    }
}
