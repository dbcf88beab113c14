//! Helpers of es-sqlite's tests: scratch directories, sizes, events.
#![allow(dead_code, unreachable_pub)] // Each test binary uses a part.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use es_core::codec::Encoded;
use es_core::{NewEvent, StreamId};

/// A directory of its own under the system's temporary directory, removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// A fresh, empty directory named after `what`.
    pub fn new(what: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("es-sqlite-test-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Self { dir }
    }

    /// A path in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The size factor of the heavier tests: `ES_TEST_SCALE` (a positive number, default 1), as
/// in the es-tests crate.
///
/// # Panics
/// When `ES_TEST_SCALE` is set but is not a positive number.
pub fn scale() -> f64 {
    match std::env::var("ES_TEST_SCALE") {
        Ok(text) => match text.parse::<f64>() {
            Ok(scale) if scale > 0.0 && scale.is_finite() => scale,
            _ => panic!("ES_TEST_SCALE must be a positive number, got {text:?}"),
        },
        Err(_) => 1.0,
    }
}

/// `n` times [`scale`], at least 1.
pub fn scaled(n: u64) -> u64 {
    ((n as f64 * scale()).round() as u64).max(1)
}

pub fn stream(name: &str) -> StreamId {
    StreamId::new(name).expect("a valid stream id")
}

/// An event named `name` with a JSON payload holding `n`.
pub fn event(name: &'static str, n: u64) -> NewEvent {
    NewEvent::new(Encoded {
        name,
        version: 1,
        payload: format!("{{\"n\":{n}}}").into_bytes().into(),
    })
}
