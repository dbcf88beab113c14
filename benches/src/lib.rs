//! The benchmark suite of the es framework: the benchmark domain, the hand-written baseline
//! it is measured against, and the helpers shared by the `es-bench` binary (which prints the
//! table of speed goals) and the divan micro benchmarks (`cargo bench -p es-bench`).
//!
//! - [`domain`]: an account aggregate (opened, deposits, withdrawals) whose state is serde
//!   serializable, so it can be snapshotted, and a [`Ledger`](domain::Ledger) projection.
//! - [`baseline`]: the same events and the same state without the framework: a plain
//!   `HashMap` of streams to vectors of serde_json-encoded events, decoded and folded by hand.
//!
//! Both sides run the same domain rules (the inherent methods of
//! [`Account`](domain::Account) and [`Ledger`](domain::Ledger)) on the same JSON, so the
//! difference between them is what the framework adds: envelopes, ids, metadata, the
//! repository, the store and the runner.
#![deny(missing_docs)]

pub mod baseline;
pub mod domain;

use domain::{Deposit, Deposited, Open, Opened, Withdraw, Withdrawn};
use es_core::JsonCodec;
use es_core::codec::{CodecError, Encoded};
use es_core::event::encode_event;

/// The owner every benchmark account is opened for.
pub const OWNER: &str = "Ada Lovelace";

/// One command of a benchmark account's life, independent of how it is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Open the account.
    Open,
    /// Deposit this many cents.
    Deposit(i64),
    /// Withdraw this many cents.
    Withdraw(i64),
}

impl Step {
    /// The `n`-th command (from 0) on an account: open it, then three deposits of 2 cents
    /// for each withdrawal of 1 cent, so every command succeeds and the stream holds all
    /// three event types.
    #[must_use]
    pub fn nth(n: u64) -> Self {
        match n {
            0 => Self::Open,
            n if n % 4 == 0 => Self::Withdraw(1),
            _ => Self::Deposit(2),
        }
    }

    /// The framework command of this step for `account`.
    #[must_use]
    pub fn command(self, account: u64) -> domain::AccountCommand {
        match self {
            Self::Open => Open {
                account,
                owner: OWNER.to_owned(),
            }
            .into(),
            Self::Deposit(amount) => Deposit { account, amount }.into(),
            Self::Withdraw(amount) => Withdraw { account, amount }.into(),
        }
    }

    /// The event this step produces on an account that accepts it, encoded as the framework
    /// stores it (serde_json).
    ///
    /// # Errors
    /// The codec's error (the domain's events always encode).
    pub fn encoded(self) -> Result<Encoded, CodecError> {
        match self {
            Self::Open => encode_event(
                &JsonCodec,
                &Opened {
                    owner: OWNER.to_owned(),
                },
            ),
            Self::Deposit(amount) => encode_event(&JsonCodec, &Deposited { amount }),
            Self::Withdraw(amount) => encode_event(&JsonCodec, &Withdrawn { amount }),
        }
    }
}

/// The peak resident set size of this process so far (`VmHWM` of `/proc/self/status`), in
/// KiB; `None` where that file does not exist (not Linux).
#[must_use]
pub fn peak_rss_kib() -> Option<u64> {
    proc_status_kib("VmHWM:")
}

/// The current resident set size of this process (`VmRSS`), in KiB.
#[must_use]
pub fn rss_kib() -> Option<u64> {
    proc_status_kib("VmRSS:")
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_open_then_deposit_and_withdraw() {
        let steps: Vec<_> = (0..6).map(Step::nth).collect();
        assert_eq!(
            steps,
            [
                Step::Open,
                Step::Deposit(2),
                Step::Deposit(2),
                Step::Deposit(2),
                Step::Withdraw(1),
                Step::Deposit(2)
            ]
        );
    }

    #[test]
    fn reads_the_peak_rss_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
            assert!(rss_kib().is_some_and(|kib| kib > 0));
        }
    }
}
