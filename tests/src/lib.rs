//! Shared helpers of the cross-crate tests: a store wrapper that simulates a concurrent
//! writer, one whose reads of the log fail on demand, a raw-append helper for planting
//! stored data, a small deterministic random generator, and a fresh PostgreSQL store.
#![deny(missing_docs)]

// The README's snippets are compiled and run as doc tests of this crate (which has every
// feature and the example domains), so they cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeSnippets;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use es_core::codec::Encoded;
use es_core::testing::hooked::{Hooked, StoreHooks};
use es_core::{
    Appended, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError, StreamId,
};

/// A store that, before each of its first appends, lets a "concurrent writer" append an
/// interloper's event to the same stream, so the append that follows conflicts.
pub type Interfering<S> = Hooked<S, Interference>;

/// `inner`, interfering with its first `times` appends by appending `interloper` first.
pub fn interfering<S>(inner: S, times: u32, interloper: Encoded) -> Interfering<S> {
    Hooked::new(
        inner,
        Interference {
            remaining: Arc::new(AtomicU32::new(times)),
            interloper,
        },
    )
}

/// The hooks of [`Interfering`]: how many interferences are left, and what is appended.
#[derive(Debug, Clone)]
pub struct Interference {
    remaining: Arc<AtomicU32>,
    interloper: Encoded,
}

impl Interference {
    /// How many interferences are left.
    pub fn remaining(&self) -> u32 {
        self.remaining.load(Ordering::SeqCst)
    }
}

impl<S: EventStore> StoreHooks<S> for Interference {
    async fn append(
        &self,
        inner: &S,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let interfere = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if interfere {
            let other = NewEvent::new(self.interloper.clone());
            inner
                .append(stream_id, ExpectedVersion::Any, vec![other])
                .await?;
        }
        inner.append(stream_id, expected, events).await
    }
}

/// A store whose reads of the log fail with a backend error, as many as asked for.
pub type FailingReads<S> = Hooked<S, ReadFailures>;

/// `inner`, whose reads of the log do not fail until [`ReadFailures::fail_next`] says so.
pub fn failing_reads<S>(inner: S) -> FailingReads<S> {
    Hooked::new(inner, ReadFailures::default())
}

/// The hooks of [`FailingReads`]: how many reads of the log are still to fail.
#[derive(Debug, Clone, Default)]
pub struct ReadFailures {
    remaining: Arc<AtomicU32>,
}

impl ReadFailures {
    /// Makes `reads` more reads of the log fail.
    pub fn fail_next(&self, reads: u32) {
        self.remaining.fetch_add(reads, Ordering::SeqCst);
    }

    /// How many reads are still to fail.
    pub fn remaining(&self) -> u32 {
        self.remaining.load(Ordering::SeqCst)
    }
}

impl<S: EventStore> StoreHooks<S> for ReadFailures {
    async fn read_all(
        &self,
        inner: &S,
        after: Position,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let failing = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(StoreError::Backend("the connection was reset".into()));
        }
        inner.read_all(after, max_count).await
    }
}

/// Appends one raw event (any name, version and payload bytes) to `stream`.
///
/// # Errors
/// The store's error.
pub async fn plant<S: EventStore>(
    store: &S,
    stream: &str,
    name: &'static str,
    version: u32,
    payload: &[u8],
) -> Result<Appended, StoreError> {
    let stream_id = StreamId::new(stream)?;
    let event = NewEvent::new(Encoded {
        name,
        version,
        payload: payload.to_vec().into(),
    });
    store
        .append(&stream_id, ExpectedVersion::Any, vec![event])
        .await
}

/// A small deterministic generator (xorshift64), so that a test makes the same choices on
/// every run. The seed must not be 0 (which stays 0).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next number, below `n`.
    ///
    /// # Panics
    /// When `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A store in a fresh schema of the test server of this process (see
/// `es_postgres::testing`), or `None` when there is none: the test is skipped, after the
/// one line saying so, which counts `tests` tests.
///
/// # Panics
/// When the server cannot be reached or the schema not created.
#[cfg(unix)]
pub async fn pg_store(tests: usize) -> Option<es_postgres::PgStore> {
    let database = es_postgres::testing::database_or_skip(tests)?;
    let pool = database.pool().await.expect("a pool");
    let store = es_postgres::testing::fresh_store(&pool).await;
    Some(store.expect("a fresh store"))
}

/// The size factor of the stress and property tests: `ES_TEST_SCALE` (a positive number,
/// default 1). CI runs them at 1; `ES_TEST_SCALE=10 cargo test -p es-tests` runs ten times
/// as many operations and cases.
///
/// # Panics
/// When `ES_TEST_SCALE` is set but is not a positive number (a misconfigured run should
/// fail loudly, not silently run at another size).
#[must_use]
pub fn test_scale() -> f64 {
    match std::env::var("ES_TEST_SCALE") {
        Err(_) => 1.0,
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(scale) if scale.is_finite() && scale > 0.0 => scale,
            _ => panic!("ES_TEST_SCALE must be a positive number, got {text:?}"),
        },
    }
}

/// `n` times [`test_scale`], rounded, at least 1.
#[must_use]
pub fn scaled(n: usize) -> usize {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let scaled = (n as f64 * test_scale()).round() as usize;
    scaled.max(1)
}

/// A file path of its own under the system's temporary directory (for an SQLite store), with
/// the file and SQLite's companions (`-wal`, `-shm`) removed when dropped.
#[derive(Debug)]
pub struct ScratchFile {
    path: std::path::PathBuf,
}

impl ScratchFile {
    /// A fresh path named after `what` and this process.
    pub fn new(what: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("es-tests-{what}-{}-{n}.db", std::process::id()));
        let file = Self { path };
        file.remove();
        file
    }

    /// The path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        self.remove();
    }
}
