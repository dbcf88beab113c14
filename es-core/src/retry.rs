//! Retry policies: how often, and how patiently, the runtime tries an operation again.
//!
//! One type, [`RetryPolicy`], serves every place that retries:
//!
//! - [`Repository::execute`](crate::Repository::execute) decides a command again after a
//!   version conflict (another writer appended to the aggregate first), under
//!   [`RetryPolicy::CONFLICTS`] unless told otherwise;
//! - [`ProjectionRunner::run`](crate::ProjectionRunner::run) resumes after a store error
//!   that retrying may fix (a lost connection, a server restart), under
//!   [`RetryPolicy::TRANSIENT`] unless told otherwise.
//!
//! The delay before each retry grows exponentially from an initial delay up to a cap, and is
//! drawn at random below that bound ("full jitter"): writers that met on one aggregate come
//! back at different moments instead of meeting again.
//!
//! ```
//! use std::time::Duration;
//! use es_core::retry::RetryPolicy;
//!
//! let patient = RetryPolicy::CONFLICTS
//!     .with_max_attempts(20)
//!     .with_max_delay(Duration::from_millis(50));
//! assert_eq!(patient.max_attempts(), 20);
//! assert!(patient.allows_retry(19) && !patient.allows_retry(20));
//! assert!(patient.delay(30) <= Duration::from_millis(50));
//! ```

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How many times an operation is attempted, and how long to wait before each retry; see
/// the [module documentation](self).
///
/// The delay before retry `n` (1 for the first retry) is drawn uniformly from
/// `0..=min(max_delay, initial_delay * 2^(n-1))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub const NEVER: Self = Self {
        max_attempts: 1,
        initial_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// The default of [`Repository`](crate::Repository) for version conflicts: up to 48
    /// attempts, the first retry after a random wait of at most 1 ms, the bound doubling up
    /// to 200 ms.
    ///
    /// - **A lone conflict is retried at once, or nearly**: the first wait is drawn below
    ///   1 ms, less than a round trip to a database server.
    /// - **Ordinary contention never reaches the caller.** A writer whose state went stale
    ///   must catch up and append (two round trips) while a writer whose cache is current
    ///   only appends (one), so on a hot aggregate the same writer can lose many times in a
    ///   row, for as long as the others keep writing. The budget is therefore sized in
    ///   time rather than in attempts: about 4 s of waiting on average, at most
    ///   [`max_total_delay`](Self::max_total_delay) (8.055 s). Eight writers making 200
    ///   commands each on one aggregate on PostgreSQL, each through a repository of its
    ///   own, needed up to about 25 attempts for a command (1.2 to 1.5 on average); five
    ///   immediate retries, the earlier default, failed 9 to 13 % of those commands.
    /// - **The waits are random and grow**: writers who met come back at different moments,
    ///   and the ones waiting long are out of the others' way, so fewer appends are wasted
    ///   and the aggregate takes more commands per second than with immediate retries.
    ///
    /// A caller who would rather hear of contention sooner sets fewer attempts
    /// ([`with_max_attempts`](Self::with_max_attempts)); one who must not fail sets more.
    pub const CONFLICTS: Self = Self {
        max_attempts: 48,
        initial_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(200),
    };

    /// The default of [`ProjectionRunner::run`](crate::ProjectionRunner::run) for store
    /// errors: retries for as long as it takes, from 10 ms up to 5 s apart.
    pub const TRANSIENT: Self = Self {
        max_attempts: u32::MAX,
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(5),
    };

    /// A policy of at most `max_attempts` attempts (the first included; at least 1), waiting
    /// from `initial_delay` up to `max_delay` between them.
    #[must_use]
    pub const fn new(max_attempts: u32, initial_delay: Duration, max_delay: Duration) -> Self {
        Self {
            max_attempts: if max_attempts == 0 { 1 } else { max_attempts },
            initial_delay,
            max_delay,
        }
    }

    /// The same policy with at most `attempts` attempts, the first included (at least 1;
    /// `u32::MAX` is unbounded).
    #[must_use]
    pub const fn with_max_attempts(self, attempts: u32) -> Self {
        Self::new(attempts, self.initial_delay, self.max_delay)
    }

    /// The same policy with the bound of the first retry's delay set to `delay`.
    #[must_use]
    pub const fn with_initial_delay(self, delay: Duration) -> Self {
        Self {
            initial_delay: delay,
            ..self
        }
    }

    /// The same policy with no delay above `delay` (the cap).
    #[must_use]
    pub const fn with_max_delay(self, delay: Duration) -> Self {
        Self {
            max_delay: delay,
            ..self
        }
    }

    /// The most attempts made, the first included (`u32::MAX`: unbounded).
    #[must_use]
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The bound of the first retry's delay.
    #[must_use]
    pub const fn initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// The cap on every delay.
    #[must_use]
    pub const fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// Whether another attempt is allowed after `attempts` attempts failed.
    #[must_use]
    pub const fn allows_retry(&self, attempts: u32) -> bool {
        self.max_attempts == u32::MAX || attempts < self.max_attempts
    }

    /// The upper bound of the delay before retry `retry` (1 for the first retry):
    /// `min(max_delay, initial_delay * 2^(retry-1))`.
    #[must_use]
    pub fn delay_bound(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.initial_delay
            .checked_mul(1 << doublings)
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// The most time spent waiting between attempts when every attempt is made: the sum of
    /// the [`delay_bound`](Self::delay_bound) of each retry. `None` when the attempts are
    /// unbounded. The delays being drawn uniformly below their bounds, the expected wait is
    /// half of it.
    #[must_use]
    pub fn max_total_delay(&self) -> Option<Duration> {
        if self.max_attempts == u32::MAX {
            return None;
        }
        let retries = self.max_attempts - 1;
        // From the 32nd retry on, every bound is the same (see `delay_bound`).
        let varying = retries.min(32);
        let total = (1..=varying).fold(Duration::ZERO, |total, retry| {
            total.saturating_add(self.delay_bound(retry))
        });
        let same = self
            .delay_bound(32)
            .checked_mul(retries - varying)
            .unwrap_or(Duration::MAX);
        Some(total.saturating_add(same))
    }

    /// The delay before retry `retry` (1 for the first retry): drawn at random from zero to
    /// [`delay_bound`](Self::delay_bound).
    #[must_use]
    pub fn delay(&self, retry: u32) -> Duration {
        let bound = self.delay_bound(retry);
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(random() % (nanos + 1))
    }
}

impl Default for RetryPolicy {
    /// [`RetryPolicy::CONFLICTS`].
    fn default() -> Self {
        Self::CONFLICTS
    }
}

/// A random number, for jitter: std's randomly keyed hasher over a per-process counter.
fn random() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// Waits `delay` (nothing at all for zero), on any executor.
pub(crate) async fn sleep(delay: Duration) {
    if !delay.is_zero() {
        futures_timer::Delay::new(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_double_up_to_the_cap() {
        let policy = RetryPolicy::new(10, Duration::from_millis(1), Duration::from_millis(10));
        let bounds: Vec<u128> = (1..=6)
            .map(|retry| policy.delay_bound(retry).as_millis())
            .collect();
        assert_eq!(bounds, [1, 2, 4, 8, 10, 10]);
        assert_eq!(policy.delay_bound(u32::MAX), Duration::from_millis(10));
    }

    #[test]
    fn delays_stay_within_their_bound_and_vary() {
        let policy = RetryPolicy::new(10, Duration::from_millis(8), Duration::from_secs(1));
        let delays: Vec<Duration> = (0..200).map(|_| policy.delay(1)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(8)));
        let first = delays[0];
        assert!(
            delays.iter().any(|d| *d != first),
            "jitter draws different delays"
        );
    }

    #[test]
    fn the_total_delay_sums_every_bound() {
        let policy = RetryPolicy::new(6, Duration::from_millis(1), Duration::from_millis(10));
        // Five retries: 1 + 2 + 4 + 8 + 10 ms.
        assert_eq!(policy.max_total_delay(), Some(Duration::from_millis(25)));
        assert_eq!(RetryPolicy::NEVER.max_total_delay(), Some(Duration::ZERO));
        assert_eq!(RetryPolicy::TRANSIENT.max_total_delay(), None);
        // Past 32 retries every bound is the cap: summed without visiting each retry.
        let long = RetryPolicy::new(u32::MAX - 1, Duration::from_secs(1), Duration::from_secs(1));
        let secs = u64::from(u32::MAX - 2);
        assert_eq!(long.max_total_delay(), Some(Duration::from_secs(secs)));
    }

    #[test]
    fn conflicts_retry_a_lone_conflict_nearly_at_once_and_wait_seconds_in_all() {
        let policy = RetryPolicy::CONFLICTS;
        assert!(policy.delay_bound(1) <= Duration::from_millis(1));
        // The figure its documentation gives: 1 + 2 + ... + 128 ms, then 39 times 200 ms.
        assert_eq!(policy.max_total_delay(), Some(Duration::from_millis(8_055)));
    }

    #[test]
    fn attempts_are_counted_with_the_first() {
        assert!(!RetryPolicy::NEVER.allows_retry(1));
        assert_eq!(
            RetryPolicy::new(0, Duration::ZERO, Duration::ZERO).max_attempts(),
            1
        );
        let three = RetryPolicy::CONFLICTS.with_max_attempts(3);
        assert!(three.allows_retry(2) && !three.allows_retry(3));
        assert!(RetryPolicy::TRANSIENT.allows_retry(u32::MAX - 1));
        assert!(RetryPolicy::TRANSIENT.allows_retry(u32::MAX));
    }
}
