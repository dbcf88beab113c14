//! A given/when/then fixture for aggregates, projections and process managers: no store, no
//! async runtime.
//!
//! ```
//! # use es_core::prelude::*;
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Event, Debug, Serialize, Deserialize)]
//! # #[event(name = "counter.incremented")]
//! # struct Incremented { by: u32 }
//! # #[derive(Command, Debug)]
//! # struct Increment { #[id] id: u64, by: u32 }
//! # #[derive(Debug, PartialEq, thiserror::Error)]
//! # #[error("increments must be positive")]
//! # struct ZeroIncrement;
//! # #[derive(Aggregate, Default, Debug)]
//! # #[aggregate(name = "counter", id = u64, error = ZeroIncrement,
//! #             events(Incremented), commands(Increment))]
//! # struct Counter { total: u64 }
//! # impl Apply<Incremented> for Counter {
//! #     fn apply(&mut self, event: &Incremented) { self.total += u64::from(event.by); }
//! # }
//! # impl Handle<Increment> for Counter {
//! #     fn handle(&self, cmd: &Increment) -> Result<Vec<CounterEvent>, ZeroIncrement> {
//! #         if cmd.by == 0 { return Err(ZeroIncrement); }
//! #         Ok(vec![Incremented { by: cmd.by }.into()])
//! #     }
//! # }
//! use es_core::testing::given;
//!
//! given::<Counter>([Incremented { by: 2 }.into()])
//!     .when(Increment { id: 1, by: 3 })
//!     .then([Incremented { by: 3 }.into()])
//!     .then_state(|counter| assert_eq!(counter.total, 5));
//!
//! given::<Counter>([])
//!     .when(Increment { id: 1, by: 0 })
//!     .then_error(ZeroIncrement);
//! ```
//!
//! Projections get the same treatment: feed events by stream, then check the state.
//!
//! ```
//! # use es_core::prelude::*;
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Event, Debug, Serialize, Deserialize)]
//! # #[event(name = "counter.incremented")]
//! # struct Incremented { by: u32 }
//! #[derive(Projection, Default, Debug, PartialEq)]
//! #[projection(name = "totals", events(Incremented))]
//! struct Totals { sum: u64, last_stream: String }
//!
//! impl On<Incremented> for Totals {
//!     fn on(&mut self, e: &Incremented, meta: &EventMeta) {
//!         self.sum += u64::from(e.by);
//!         self.last_stream = meta.stream_id.to_string();
//!     }
//! }
//!
//! es_core::testing::projection::<Totals>()
//!     .given("counter-1", Incremented { by: 2 })
//!     .given("counter-2", Incremented { by: 5 })
//!     .then(Totals { sum: 7, last_stream: "counter-2".into() });
//! ```
//!
//! Events are compared the way they are stored: by wire name, schema version and encoded
//! payload (JSON), so event types need not implement `PartialEq`. A failure panics at the
//! calling line with a line-per-event diff of expected and actual events.

use std::fmt::Write as _;

mod aggregate;
pub mod contract;
pub mod hooked;
mod process;
mod projection;

pub use aggregate::{Given, Refusal, When, given};
pub use process::{ProcessScenario, ProcessThen, process};
pub use projection::{ProjectionScenario, projection};

/// `None` when equal; otherwise one line per position: `  ` same, `- ` expected, `+ ` actual.
pub(crate) fn diff(expected: &[String], actual: &[String]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut out = String::new();
    for i in 0..expected.len().max(actual.len()) {
        match (expected.get(i), actual.get(i)) {
            (Some(e), Some(a)) if e == a => {
                let _ = writeln!(out, "    #{i} {e}");
            }
            (e, a) => {
                if let Some(e) = e {
                    let _ = writeln!(out, "  - #{i} {e}");
                }
                if let Some(a) = a {
                    let _ = writeln!(out, "  + #{i} {a}");
                }
            }
        }
    }
    Some(out)
}
