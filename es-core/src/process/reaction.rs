//! [`Reaction`]: what a process manager's instance does in response to an input.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::process::{ProcessManager, TimerOf, TimerSet};

/// What an instance does in response to an event, a timer or a command's outcome: the
/// commands it sends, the timers it sets or cancels, whether it is finished. Its
/// [`React`](crate::process::React), [`OnTimer`](crate::process::OnTimer) and
/// [`Answer`](crate::process::Answer) impls fill it; the runtime carries it out after the
/// impl returns.
///
/// Everything here is derived from the input alone, so that handling the same input again
/// (after a crash) does the same: [`now`](Self::now) is the input's time (an event's
/// recorded time, a timer's due time), not the clock's.
pub struct Reaction<P: ProcessManager> {
    now: SystemTime,
    commands: Vec<P::Command>,
    timers: Vec<TimerChange<P::Timer>>,
    finished: bool,
}

/// A timer set or cancelled by a [`Reaction`].
#[derive(Debug, Clone, PartialEq)]
pub enum TimerChange<T> {
    /// The timer, to fire at `at` (replacing a timer of the same name of the instance).
    Set {
        /// When it fires.
        at: SystemTime,
        /// The timer.
        timer: T,
    },
    /// The instance's timer of this name is cancelled.
    Cancel {
        /// The timer's name ([`TimerOf::NAME`]).
        name: &'static str,
    },
}

impl<T: TimerSet> TimerChange<T> {
    /// The name of the timer set or cancelled.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Set { timer, .. } => timer.name(),
            Self::Cancel { name } => name,
        }
    }
}

impl<P: ProcessManager> Reaction<P> {
    /// An empty reaction to an input of time `now`.
    #[must_use]
    pub fn new(now: SystemTime) -> Self {
        Self {
            now,
            commands: Vec::new(),
            timers: Vec::new(),
            finished: false,
        }
    }

    /// The input's time: an event's recorded time, a timer's due time (the time of the
    /// input being answered, for a command's outcome).
    #[must_use]
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// Sends `command`. Its outcome comes back to the instance's `Answer` impl.
    pub fn send(&mut self, command: impl Into<P::Command>) -> &mut Self {
        self.commands.push(command.into());
        self
    }

    /// Sets `timer` to fire at `at`, replacing the instance's timer of the same type.
    pub fn timer_at(&mut self, at: SystemTime, timer: impl Into<P::Timer>) -> &mut Self {
        self.timers.push(TimerChange::Set {
            at,
            timer: timer.into(),
        });
        self
    }

    /// Sets `timer` to fire `delay` after [`now`](Self::now), replacing the instance's timer
    /// of the same type.
    pub fn timer_after(&mut self, delay: Duration, timer: impl Into<P::Timer>) -> &mut Self {
        let at = self.now + delay;
        self.timer_at(at, timer)
    }

    /// Cancels the instance's timer of type `T`, if one is set.
    pub fn cancel_timer<T: TimerOf<P>>(&mut self) -> &mut Self {
        self.timers.push(TimerChange::Cancel { name: T::NAME });
        self
    }

    /// Finishes the instance: its state is dropped once this reaction is carried out, its
    /// timers are cancelled, and later inputs for its key are ignored.
    pub fn finish(&mut self) -> &mut Self {
        self.finished = true;
        self
    }

    /// The commands sent, in order.
    #[must_use]
    pub fn commands(&self) -> &[P::Command] {
        &self.commands
    }

    /// The timers set and cancelled, in order.
    #[must_use]
    pub fn timers(&self) -> &[TimerChange<P::Timer>] {
        &self.timers
    }

    /// Whether the instance finished.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Takes the timer changes out.
    pub(crate) fn take_timers(&mut self) -> Vec<TimerChange<P::Timer>> {
        std::mem::take(&mut self.timers)
    }

    /// Takes the commands sent so far out.
    pub(crate) fn take_commands(&mut self) -> Vec<P::Command> {
        std::mem::take(&mut self.commands)
    }
}

impl<P: ProcessManager> fmt::Debug for Reaction<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reaction")
            .field("now", &self.now)
            .field("commands", &self.commands)
            .field("timers", &self.timers)
            .field("finished", &self.finished)
            .finish()
    }
}
