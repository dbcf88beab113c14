//! [`Progress`]: how a long job (a rebuild) reports its way through the log: one line
//! rewritten in place on a terminal, plain lines now and then when piped.

use std::io;
use std::time::{Duration, Instant};

use crate::output::Out;

/// How often the line on a terminal is rewritten.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// The progress of a job from position 0 to `head`.
pub(crate) struct Progress {
    name: &'static str,
    head: u64,
    started: Instant,
    /// When piped: the time between two lines, and when and at which tenth the last was.
    every: Duration,
    last_line: Instant,
    last_tenth: u64,
    /// Whether a line on a terminal waits to be ended by the summary.
    open: bool,
}

impl Progress {
    /// The progress of `name` towards `head`; piped, a line at least every `every` and at
    /// each tenth of the way.
    pub(crate) fn new(name: &'static str, head: u64, every: Duration) -> Self {
        let now = Instant::now();
        Self {
            name,
            head,
            started: now,
            every,
            last_line: now,
            last_tenth: 0,
            open: false,
        }
    }

    /// The time since the start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Reports `position`: rewrites the line on a terminal; when piped, writes a line if
    /// `every` has passed or a new tenth of the way is reached.
    pub(crate) fn update(&mut self, position: u64, out: &mut Out) -> io::Result<()> {
        let line = self.render(position);
        if out.terminal {
            self.open = true;
            let bar = bar(position, self.head);
            return out.partial(&format!("\r{bar} {line}\x1b[K"));
        }
        let tenth = position.saturating_mul(10) / self.head.max(1);
        if tenth > self.last_tenth || self.last_line.elapsed() >= self.every {
            self.last_tenth = tenth;
            self.last_line = Instant::now();
            out.line(&line)?;
        }
        Ok(())
    }

    /// Ends the progress with the summary line.
    pub(crate) fn finish(&mut self, position: u64, out: &mut Out) -> io::Result<()> {
        if out.terminal && self.open {
            let bar = bar(position, self.head);
            out.partial(&format!("\r{bar} {}\x1b[K\n", self.render(position)))?;
        }
        let seconds = self.elapsed().as_secs_f64();
        out.line(&format!(
            "rebuilt {} to position {position} in {seconds:.1} s ({} events/s)",
            self.name,
            rate(position, seconds),
        ))
    }

    /// `balances  523776/1000000  52.4%  101234 events/s  ETA 4.7 s`.
    fn render(&self, position: u64) -> String {
        let seconds = self.elapsed().as_secs_f64();
        let per_second = rate(position, seconds);
        let percent = if self.head == 0 {
            100.0
        } else {
            position as f64 * 100.0 / self.head as f64
        };
        let eta = if per_second == 0 {
            "ETA -".to_owned()
        } else {
            let left = self.head.saturating_sub(position) as f64 / per_second as f64;
            format!("ETA {left:.1} s")
        };
        format!(
            "{}  {position}/{}  {percent:.1}%  {per_second} events/s  {eta}",
            self.name, self.head
        )
    }
}

/// The width of the bar, in characters between its brackets.
const BAR_WIDTH: u64 = 24;

/// `[#########               ]`: how much of the way to `head` `position` is.
fn bar(position: u64, head: u64) -> String {
    let done = (position.min(head) * BAR_WIDTH)
        .checked_div(head)
        .unwrap_or(BAR_WIDTH);
    let done = usize::try_from(done).unwrap_or(0);
    let width = usize::try_from(BAR_WIDTH).unwrap_or(0);
    format!(
        "[{}{}]",
        "#".repeat(done),
        " ".repeat(width.saturating_sub(done))
    )
}

/// Events per second, rounded down (0 before any time has passed).
pub(crate) fn rate(events: u64, seconds: f64) -> u64 {
    if seconds <= 0.0 {
        0
    } else {
        (events as f64 / seconds) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::{bar, rate};

    #[test]
    fn the_bar_fills_with_the_position() {
        assert_eq!(bar(0, 100), format!("[{}]", " ".repeat(24)));
        assert_eq!(
            bar(50, 100),
            format!("[{}{}]", "#".repeat(12), " ".repeat(12))
        );
        assert_eq!(bar(100, 100), format!("[{}]", "#".repeat(24)));
        // An empty log is done.
        assert_eq!(bar(0, 0), format!("[{}]", "#".repeat(24)));
    }

    #[test]
    fn the_rate_is_events_per_second() {
        assert_eq!(rate(1000, 0.5), 2000);
        assert_eq!(rate(1000, 0.0), 0);
    }
}
